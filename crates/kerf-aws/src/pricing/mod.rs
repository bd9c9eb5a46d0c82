//! Prices: on-demand from the Pricing API's GetProducts (Linux, shared
//! tenancy, no pre-installed software, used capacity) with the built-in
//! catalogue's list prices as the fallback table when the API is unreachable,
//! and spot from DescribeSpotPriceHistory (the latest price per type and zone).
//! Parsing is pure ([`products::on_demand_prices`], [`spot::latest_spot_prices`]).

pub mod products;
pub mod spot;

use std::collections::BTreeMap;

use kerf_cloud::Catalog;

/// Where the on-demand prices came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceSource {
    PricingApi,
    /// kerf's built-in table (us-east-1 list prices), used when the API failed.
    Fallback,
}

/// On-demand $/h by instance type, and spot $/h by instance type and zone.
#[derive(Clone, Debug, PartialEq)]
pub struct Prices {
    pub on_demand: BTreeMap<String, f64>,
    pub on_demand_source: PriceSource,
    pub spot: BTreeMap<String, BTreeMap<String, f64>>,
}

/// The fallback on-demand table that ships with kerf: the built-in catalogue's prices.
pub fn fallback_on_demand() -> BTreeMap<String, f64> {
    Catalog::builtin()
        .instance_types
        .iter()
        .filter_map(|e| Some((e.name.clone(), e.on_demand?)))
        .collect()
}

/// On-demand prices from the API, or the fallback table (logged) when it failed.
pub async fn on_demand_prices(
    pricing: &aws_sdk_pricing::Client,
    region: &str,
) -> (BTreeMap<String, f64>, PriceSource) {
    match products::get_products(pricing, region).await {
        Ok(prices) if !prices.is_empty() => (prices, PriceSource::PricingApi),
        Ok(_) => {
            tracing::warn!(%region, "GetProducts returned no prices; using the built-in price table");
            (fallback_on_demand(), PriceSource::Fallback)
        }
        Err(e) => {
            tracing::warn!(%region, error = %e, "GetProducts failed; using the built-in price table");
            (fallback_on_demand(), PriceSource::Fallback)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_covers_common_types() {
        let table = fallback_on_demand();
        for t in ["m5.large", "c5.xlarge", "t3.medium", "r5.large"] {
            assert!(
                table.get(t).is_some_and(|p| *p > 0.0),
                "{t} has a fallback price"
            );
        }
        assert_eq!(table["m5.large"], 0.096);
    }
}
