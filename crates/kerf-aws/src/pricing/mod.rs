//! Prices: on-demand from the Pricing API's GetProducts (Linux, shared
//! tenancy, no pre-installed software, used capacity) with the built-in
//! catalogue's list prices as the fallback table when the API is unreachable,
//! and spot from DescribeSpotPriceHistory (the latest price per type and zone).
//! Parsing is pure ([`products::on_demand_prices`], [`spot::latest_spot_prices`]),
//! and so is laying the prices over a catalogue ([`Prices::apply_to`], for
//! `kerf top --aws`).

pub mod products;
pub mod spot;

use std::collections::BTreeMap;

use kerf_cloud::Catalog;

use crate::clients::Clients;

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

impl Prices {
    /// Lays these prices over `catalog`: each type the prices name gets their
    /// on-demand price and, where they have spot prices for it, exactly those
    /// zones' spot prices (the zones of the region the prices are for, which
    /// need not be the catalogue's). Types the prices do not name keep the
    /// catalogue's; types the catalogue lacks are not added, since a price
    /// alone is no instance type. With the fallback table, on-demand prices
    /// are left as the catalogue has them.
    pub fn apply_to(&self, catalog: &mut Catalog) -> Applied {
        let mut applied = Applied::default();
        for entry in &mut catalog.instance_types {
            if self.on_demand_source == PriceSource::PricingApi
                && let Some(price) = self.on_demand.get(&entry.name)
            {
                entry.on_demand = Some(*price);
                applied.on_demand += 1;
            }
            if let Some(zones) = self.spot.get(&entry.name).filter(|z| !z.is_empty()) {
                entry.spot = zones.clone();
                applied.spot += 1;
            }
        }
        applied
    }
}

/// How many catalogue types [`Prices::apply_to`] repriced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub on_demand: usize,
    pub spot: usize,
}

/// The region's prices now: on-demand as [`on_demand_prices`] finds them, and
/// spot from DescribeSpotPriceHistory (for `only` these types, when given).
/// A spot failure is logged and leaves no spot prices, so that spot offerings
/// are not priced from stale or made-up figures.
pub async fn current(clients: &Clients, only: Option<&[String]>) -> Prices {
    let (on_demand, on_demand_source) = on_demand_prices(&clients.pricing, &clients.region).await;
    let now = std::time::SystemTime::now();
    let spot = match spot::describe_spot_prices(&clients.ec2, now, only).await {
        Ok(spot) => spot,
        Err(e) => {
            tracing::warn!(error = %e, "DescribeSpotPriceHistory failed; no spot prices until it works");
            BTreeMap::new()
        }
    };
    Prices {
        on_demand,
        on_demand_source,
        spot,
    }
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

    fn zones(prices: &[(&str, f64)]) -> BTreeMap<String, f64> {
        prices.iter().map(|(z, p)| (z.to_string(), *p)).collect()
    }

    #[test]
    fn applied_prices_replace_the_catalogues_for_the_types_they_name() {
        let mut catalog = Catalog::builtin();
        let c5_before = catalog.get("c5.large").cloned().expect("c5.large");
        let prices = Prices {
            on_demand: [
                ("m5.large".to_string(), 0.107),
                ("zz9.huge".to_string(), 9.0),
            ]
            .into(),
            on_demand_source: PriceSource::PricingApi,
            spot: [
                ("m5.large".to_string(), zones(&[("eu-west-1a", 0.031)])),
                ("t3.micro".to_string(), BTreeMap::new()),
            ]
            .into(),
        };
        let applied = prices.apply_to(&mut catalog);
        assert_eq!(
            applied,
            Applied {
                on_demand: 1,
                spot: 1
            }
        );
        let m5 = catalog.get("m5.large").expect("m5.large");
        assert_eq!(m5.on_demand, Some(0.107));
        // The region's zones, not the catalogue's us-east-1 ones.
        assert_eq!(m5.spot, zones(&[("eu-west-1a", 0.031)]));
        assert_eq!(catalog.get("c5.large"), Some(&c5_before));
        assert!(
            catalog.get("zz9.huge").is_none(),
            "a price alone adds no type"
        );
        // No spot prices for a type keeps the catalogue's.
        assert!(!catalog.get("t3.micro").expect("t3.micro").spot.is_empty());
    }

    #[test]
    fn the_fallback_table_leaves_on_demand_prices_alone() {
        let mut catalog = Catalog::builtin();
        let prices = Prices {
            on_demand: [("m5.large".to_string(), 1.0)].into(),
            on_demand_source: PriceSource::Fallback,
            spot: BTreeMap::new(),
        };
        assert_eq!(prices.apply_to(&mut catalog), Applied::default());
        assert_eq!(
            catalog.get("m5.large").and_then(|e| e.on_demand),
            Some(0.096)
        );
    }
}
