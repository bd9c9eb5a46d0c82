//! Spot prices from DescribeSpotPriceHistory: the most recent price for each
//! instance type and zone.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{InstanceType, SpotPrice};
use aws_smithy_types::DateTime;
use kerf_cloud::provider::Result;

use crate::error::aws_error;

/// The latest price per (type, zone); entries without a parseable price are skipped.
pub fn latest_spot_prices(history: &[SpotPrice]) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut latest: BTreeMap<(String, String), (Option<DateTime>, f64)> = BTreeMap::new();
    for p in history {
        let (Some(t), Some(zone), Some(price)) = (
            p.instance_type(),
            p.availability_zone(),
            p.spot_price().and_then(|s| s.parse::<f64>().ok()),
        ) else {
            continue;
        };
        if !(price.is_finite() && price > 0.0) {
            continue;
        }
        let at = p.timestamp().copied();
        let key = (t.as_str().to_string(), zone.to_string());
        let newer = latest
            .get(&key)
            .is_none_or(|(seen, _)| at.map(|a| a.as_nanos()) > seen.map(|s| s.as_nanos()));
        if newer {
            latest.insert(key, (at, price));
        }
    }
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for ((t, zone), (_, price)) in latest {
        out.entry(t).or_default().insert(zone, price);
    }
    out
}

/// Current Linux spot prices in the region (for `only` these types, when given).
pub async fn describe_spot_prices(
    ec2: &aws_sdk_ec2::Client,
    now: std::time::SystemTime,
    only: Option<&[String]>,
) -> Result<BTreeMap<String, BTreeMap<String, f64>>> {
    let mut pages = ec2
        .describe_spot_price_history()
        .set_instance_types(only.map(|names| {
            names
                .iter()
                .map(|n| InstanceType::from(n.as_str()))
                .collect()
        }))
        .product_descriptions("Linux/UNIX")
        .start_time(DateTime::from(now))
        .into_paginator()
        .send();
    let mut history = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("DescribeSpotPriceHistory", e))?;
        history.extend(page.spot_price_history().iter().cloned());
    }
    Ok(latest_spot_prices(&history))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(t: &str, zone: &str, usd: &str, secs: i64) -> SpotPrice {
        SpotPrice::builder()
            .instance_type(InstanceType::from(t))
            .availability_zone(zone)
            .spot_price(usd)
            .timestamp(DateTime::from_secs(secs))
            .build()
    }

    #[test]
    fn latest_price_per_type_and_zone() {
        let history = [
            price("m5.large", "us-east-1a", "0.040", 100),
            price("m5.large", "us-east-1a", "0.035", 200),
            price("m5.large", "us-east-1b", "0.050", 150),
            price("c5.large", "us-east-1a", "not-a-price", 150),
        ];
        let prices = latest_spot_prices(&history);
        assert_eq!(prices["m5.large"]["us-east-1a"], 0.035);
        assert_eq!(prices["m5.large"]["us-east-1b"], 0.050);
        assert!(!prices.contains_key("c5.large"));
    }
}
