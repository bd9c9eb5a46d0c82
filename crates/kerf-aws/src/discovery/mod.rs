//! What the provider learns from AWS, cached and refreshed after an interval
//! measured on the injected [`Clock`]: instance types and the zones they are
//! offered in, prices, subnets and security groups, and AMIs per query. A
//! failed refresh keeps serving the previous value when there is one.

pub mod images;
pub mod instance_types;
pub mod network;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kerf_cloud::catalog::CatalogEntry;
use kerf_cloud::provider::Result;
use tokio::sync::Mutex;

use crate::clients::Clients;
use crate::clock::Clock;
use crate::pricing::{self, Prices};
use images::ResolvedAmi;
use network::{SecurityGroupInfo, SubnetInfo};

/// Instance type shapes and where they are offered.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceTypeData {
    pub entries: Vec<CatalogEntry>,
    pub zones: BTreeMap<String, BTreeSet<String>>,
}

/// Every subnet and security group visible to the account in the region.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetworkData {
    pub subnets: Vec<SubnetInfo>,
    pub security_groups: Vec<SecurityGroupInfo>,
}

/// How often each kind of data is refreshed.
#[derive(Clone, Debug)]
pub struct RefreshIntervals {
    pub instance_types: Duration,
    pub prices: Duration,
    pub network: Duration,
    pub images: Duration,
}

impl Default for RefreshIntervals {
    fn default() -> Self {
        RefreshIntervals {
            instance_types: Duration::from_secs(300),
            prices: Duration::from_secs(300),
            network: Duration::from_secs(60),
            images: Duration::from_secs(300),
        }
    }
}

struct Slot<T> {
    value: Option<(Instant, Arc<T>)>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot { value: None }
    }
}

async fn cached<T, F, Fut>(
    slot: &Mutex<Slot<T>>,
    now: Instant,
    every: Duration,
    fetch: F,
) -> Result<Arc<T>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut slot = slot.lock().await;
    if let Some((at, value)) = &slot.value
        && now.saturating_duration_since(*at) < every
    {
        return Ok(value.clone());
    }
    match fetch().await {
        Ok(v) => {
            let v = Arc::new(v);
            slot.value = Some((now, v.clone()));
            Ok(v)
        }
        Err(e) => match &slot.value {
            Some((_, stale)) => {
                tracing::warn!(error = %e, "refresh failed; serving the previous discovery result");
                Ok(stale.clone())
            }
            None => Err(e),
        },
    }
}

/// One AMI query's cache entry, locked on its own so queries refresh independently.
type ImageSlot = Arc<Mutex<Slot<Vec<ResolvedAmi>>>>;

/// The discovery caches over one set of clients.
pub struct Discovery {
    clients: Clients,
    clock: Arc<dyn Clock>,
    intervals: RefreshIntervals,
    /// Discover only these instance types (all when `None`).
    only_types: Option<Vec<String>>,
    instance_types: Mutex<Slot<InstanceTypeData>>,
    prices: Mutex<Slot<Prices>>,
    network: Mutex<Slot<NetworkData>>,
    images: Mutex<BTreeMap<String, ImageSlot>>,
}

impl Discovery {
    pub fn new(
        clients: Clients,
        clock: Arc<dyn Clock>,
        intervals: RefreshIntervals,
        only_types: Option<Vec<String>>,
    ) -> Self {
        Discovery {
            clients,
            clock,
            intervals,
            only_types,
            instance_types: Mutex::default(),
            prices: Mutex::default(),
            network: Mutex::default(),
            images: Mutex::default(),
        }
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    pub async fn instance_types(&self) -> Result<Arc<InstanceTypeData>> {
        let ec2 = &self.clients.ec2;
        let only = self.only_types.as_deref();
        cached(
            &self.instance_types,
            self.now(),
            self.intervals.instance_types,
            || async {
                Ok(InstanceTypeData {
                    entries: instance_types::describe_instance_types(ec2, only).await?,
                    zones: instance_types::describe_offerings(ec2).await?,
                })
            },
        )
        .await
    }

    pub async fn prices(&self) -> Result<Arc<Prices>> {
        let clients = &self.clients;
        let only = self.only_types.as_deref();
        cached(&self.prices, self.now(), self.intervals.prices, || async {
            Ok(pricing::current(clients, only).await)
        })
        .await
    }

    pub async fn network(&self) -> Result<Arc<NetworkData>> {
        let ec2 = &self.clients.ec2;
        cached(
            &self.network,
            self.now(),
            self.intervals.network,
            || async {
                Ok(NetworkData {
                    subnets: network::describe_subnets(ec2).await?,
                    security_groups: network::describe_security_groups(ec2).await?,
                })
            },
        )
        .await
    }

    /// AMIs for one query, cached under `key` (the query's description).
    pub async fn images<F, Fut>(&self, key: String, fetch: F) -> Result<Arc<Vec<ResolvedAmi>>>
    where
        F: FnOnce(Clients) -> Fut,
        Fut: Future<Output = Result<Vec<ResolvedAmi>>>,
    {
        let slot = self.images.lock().await.entry(key).or_default().clone();
        let clients = self.clients.clone();
        cached(&slot, self.now(), self.intervals.images, || fetch(clients)).await
    }
}
