//! The Pricing API's GetProducts answer: each `PriceList` entry is a JSON
//! document with `product.attributes.instanceType` and an `OnDemand` term whose
//! price dimension carries `pricePerUnit.USD` per hour.

use std::collections::BTreeMap;

use aws_sdk_pricing::types::{Filter, FilterType};
use kerf_cloud::provider::Result;
use serde::Deserialize;

use crate::error::{aws_error, bad_answer};

#[derive(Deserialize)]
struct PriceItem {
    product: Product,
    #[serde(default)]
    terms: Terms,
}

#[derive(Deserialize)]
struct Product {
    attributes: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
struct Terms {
    #[serde(rename = "OnDemand", default)]
    on_demand: BTreeMap<String, Term>,
}

#[derive(Deserialize)]
struct Term {
    #[serde(rename = "priceDimensions", default)]
    price_dimensions: BTreeMap<String, Dimension>,
}

#[derive(Deserialize)]
struct Dimension {
    #[serde(default)]
    unit: String,
    #[serde(rename = "pricePerUnit", default)]
    price_per_unit: BTreeMap<String, String>,
}

/// A GetProducts PriceList document kerf cannot read, named by its index.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum PriceListError {
    #[error("PriceList[{index}]: {reason}")]
    NotJson { index: usize, reason: String },
    #[error("PriceList[{index}] ({instance_type}): pricePerUnit.USD {usd:?} is not a number")]
    NotANumber {
        index: usize,
        instance_type: String,
        usd: String,
    },
}

/// Hourly on-demand USD prices by instance type from PriceList documents.
/// Documents that are not valid JSON are an error naming their index; zero
/// prices (reserved placeholders) are skipped; the lowest positive price wins.
pub fn on_demand_prices(
    price_list: &[String],
) -> std::result::Result<BTreeMap<String, f64>, PriceListError> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for (i, doc) in price_list.iter().enumerate() {
        let item: PriceItem = serde_json::from_str(doc).map_err(|e| PriceListError::NotJson {
            index: i,
            reason: e.to_string(),
        })?;
        let Some(instance_type) = item.product.attributes.get("instanceType") else {
            continue;
        };
        for dim in item
            .terms
            .on_demand
            .values()
            .flat_map(|t| t.price_dimensions.values())
        {
            if !dim.unit.eq_ignore_ascii_case("hrs") {
                continue;
            }
            let Some(usd) = dim.price_per_unit.get("USD") else {
                continue;
            };
            let price: f64 = usd.parse().map_err(|_| PriceListError::NotANumber {
                index: i,
                instance_type: instance_type.clone(),
                usd: usd.clone(),
            })?;
            if price > 0.0 && price.is_finite() {
                out.entry(instance_type.clone())
                    .and_modify(|p| *p = p.min(price))
                    .or_insert(price);
            }
        }
    }
    Ok(out)
}

fn term(field: &str, value: &str) -> Result<Filter> {
    Filter::builder()
        .r#type(FilterType::TermMatch)
        .field(field)
        .value(value)
        .build()
        .map_err(|e| kerf_cloud::CloudError::other("building a GetProducts filter", e))
}

/// Every on-demand Linux price in the region, through GetProducts pages.
pub async fn get_products(
    pricing: &aws_sdk_pricing::Client,
    region: &str,
) -> Result<BTreeMap<String, f64>> {
    let filters = vec![
        term("regionCode", region)?,
        term("serviceCode", "AmazonEC2")?,
        term("tenancy", "Shared")?,
        term("productFamily", "Compute Instance")?,
        term("operatingSystem", "Linux")?,
        term("preInstalledSw", "NA")?,
        term("capacitystatus", "Used")?,
    ];
    let mut pages = pricing
        .get_products()
        .service_code("AmazonEC2")
        .format_version("aws_v1")
        .set_filters(Some(filters))
        .into_paginator()
        .send();
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| aws_error("GetProducts", e))?;
        let prices = on_demand_prices(page.price_list())
            .map_err(|why| bad_answer("GetProducts", why.to_string()))?;
        for (t, p) in prices {
            out.entry(t).or_insert(p);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GetProducts answer body in the API's wire format (aws_v1 PriceList strings).
    const FIXTURE: &str = include_str!("../../tests/fixtures/get-products-us-east-1.json");

    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct GetProductsBody {
        price_list: Vec<String>,
    }

    #[test]
    fn parses_on_demand_terms_of_a_get_products_answer() {
        let body: GetProductsBody = serde_json::from_str(FIXTURE).unwrap();
        let prices = on_demand_prices(&body.price_list).unwrap();
        assert_eq!(prices.len(), 5);
        assert_eq!(prices["m5.large"], 0.096);
        assert_eq!(prices["c5.large"], 0.085);
        assert_eq!(prices["t3.medium"], 0.0416);
        assert_eq!(prices["m6g.large"], 0.077);
        // The reserved term (0.06) in each document is not an on-demand price.
        assert!(prices.values().all(|p| *p != 0.06));
    }

    #[test]
    fn malformed_documents_are_errors_naming_the_entry() {
        let err = on_demand_prices(&["{}".to_string(), "not json".to_string()]).unwrap_err();
        assert!(err.to_string().starts_with("PriceList[0]"), "{err}");
        let bad_price = r#"{"product":{"attributes":{"instanceType":"m5.large"}},
            "terms":{"OnDemand":{"a":{"priceDimensions":{"b":{"unit":"Hrs","pricePerUnit":{"USD":"x"}}}}}}}"#;
        let err = on_demand_prices(&[bad_price.to_string()]).unwrap_err();
        assert!(
            err.to_string().contains("m5.large") && err.to_string().contains("pricePerUnit.USD"),
            "{err}"
        );
    }
}
