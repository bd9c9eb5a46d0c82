//! Leader election with a `coordination.k8s.io/v1` Lease, so two replicas can
//! run and only one acts: every replica watches and keeps its cache warm, the
//! leader alone provisions, runs lifecycle and terminates. The decision
//! (hold, take over an expired lease, or wait) is pure; the loop renews every
//! `retry` and, like controller-runtime, the process stops if it loses the
//! lease it held (the next leader starts from a fresh cache).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::context::Context;

#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
    pub retry: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseDecision {
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it.
    Acquire,
    /// Someone else holds a live lease.
    Wait,
}

/// What to do with the lease as it stands at `now`.
pub fn decide(spec: Option<&LeaseSpec>, me: &str, now: Timestamp) -> LeaseDecision {
    let Some(spec) = spec else {
        return LeaseDecision::Acquire;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return LeaseDecision::Renew;
    }
    if holder.is_empty() {
        return LeaseDecision::Acquire;
    }
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(15));
    let renewed = spec.renew_time.as_ref().or(spec.acquire_time.as_ref());
    match renewed {
        Some(t) if t.0.as_second() + duration > now.as_second() => LeaseDecision::Wait,
        _ => LeaseDecision::Acquire,
    }
}

fn spec_for(election: &LeaderElection, previous: Option<&LeaseSpec>, now: Timestamp) -> LeaseSpec {
    let renewing =
        previous.and_then(|p| p.holder_identity.as_deref()) == Some(election.identity.as_str());
    let transitions = previous.and_then(|p| p.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(election.identity.clone()),
        lease_duration_seconds: Some(
            i32::try_from(election.lease_duration.as_secs()).unwrap_or(15),
        ),
        acquire_time: if renewing {
            previous.and_then(|p| p.acquire_time.clone())
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if renewing {
            transitions
        } else {
            transitions + 1
        }),
        ..Default::default()
    }
}

/// One round: returns whether we hold the lease afterwards.
async fn round(api: &Api<Lease>, election: &LeaderElection) -> kube::Result<bool> {
    let now = Timestamp::now();
    let Some(mut lease) = api.get_opt(&election.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(election.name.clone()),
                namespace: Some(election.namespace.clone()),
                ..Default::default()
            },
            spec: Some(spec_for(election, None, now)),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        };
    };
    match decide(lease.spec.as_ref(), &election.identity, now) {
        LeaseDecision::Wait => Ok(false),
        LeaseDecision::Renew | LeaseDecision::Acquire => {
            lease.spec = Some(spec_for(election, lease.spec.as_ref(), now));
            // `replace` carries the resourceVersion we read: if another
            // replica got there first it fails with 409 and we wait.
            match api
                .replace(&election.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

/// Campaigns forever; returns (an error) only when leadership held is lost.
pub async fn run(ctx: Arc<Context>, election: LeaderElection) -> String {
    let api: Api<Lease> = Api::namespaced(ctx.client.clone(), &election.namespace);
    let mut last_renewed: Option<std::time::Instant> = None;
    loop {
        let held = match round(&api, &election).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = %e, lease = %election.name, "leader election round failed");
                false
            }
        };
        if held {
            if !ctx.is_leader() {
                tracing::info!(identity = %election.identity, lease = %election.name, "became leader");
                ctx.set_leader(true);
            }
            last_renewed = Some(std::time::Instant::now());
        } else if ctx.is_leader()
            && last_renewed.is_none_or(|t| t.elapsed() >= election.lease_duration)
        {
            ctx.set_leader(false);
            return format!(
                "lost the leader lease {}/{}",
                election.namespace, election.name
            );
        }
        tokio::time::sleep(election.retry).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn hold_take_over_or_wait() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(decide(None, "a", now), LeaseDecision::Acquire);
        assert_eq!(
            decide(Some(&lease("a", 990)), "a", now),
            LeaseDecision::Renew
        );
        assert_eq!(
            decide(Some(&lease("b", 990)), "a", now),
            LeaseDecision::Wait
        );
        assert_eq!(
            decide(Some(&lease("b", 985)), "a", now),
            LeaseDecision::Acquire,
            "expired"
        );
        assert_eq!(
            decide(Some(&lease("", 999)), "a", now),
            LeaseDecision::Acquire
        );
        let e = LeaderElection {
            namespace: "kube-system".into(),
            name: "l".into(),
            identity: "a".into(),
            lease_duration: Duration::from_secs(15),
            retry: Duration::from_secs(2),
        };
        let taken = spec_for(&e, Some(&lease("b", 985)), now);
        assert_eq!(taken.lease_transitions, Some(1));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        let renewed = spec_for(&e, Some(&taken), Timestamp::from_second(1_002).unwrap());
        assert_eq!(renewed.lease_transitions, Some(1));
        assert_eq!(renewed.acquire_time, Some(MicroTime(now)));
    }
}
