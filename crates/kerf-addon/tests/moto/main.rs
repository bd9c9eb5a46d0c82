//! The AWS side against moto_server with the real SDK clients: install creates every
//! resource with the expected documents, a second install changes nothing, uninstall removes
//! what kerf created and nothing else, and a failure names its step and a re-run resumes.
//!
//! moto quirks, and how the tests meet them:
//! - IAM has no AWS managed policies (AmazonEKSWorkerNodePolicy, ...) unless moto runs with
//!   `MOTO_IAM_LOAD_MANAGED_POLICIES=true` (its `/moto-api/config` does not take the IAM
//!   setting): `support::start` sets it through `MotoServer::with_managed_policies`.
//! - CreateServiceLinkedRole for spot.amazonaws.com names the role `AWSServiceRoleForspot`
//!   (AWS: `AWSServiceRoleForEC2Spot`). kerf finds the role by the path IAM gives every
//!   service-linked role (`/aws-service-role/spot.amazonaws.com/`), so the same code works
//!   on both, and the tests assert on the path, not the name.
//! - moto URL-encodes policy documents in GetRole / GetPolicyVersion as AWS does; kerf and
//!   the tests decode them before parsing.
//! - CreateOpenIDConnectProvider accepts no thumbprint, as AWS now does for EKS issuers.

mod install;
mod support;
mod uninstall;
