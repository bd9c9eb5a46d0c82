//! What `kerf top` prices nodes by, and where those prices came from (shown
//! under the totals): the catalogue's list prices (the built-in one or
//! `--catalog`), or with `--aws` the region's current prices laid over it
//! (on-demand from the Pricing API, spot from DescribeSpotPriceHistory),
//! read once at start.

use std::path::Path;

use kerf_cloud::Catalog;

use crate::cmd::CmdError;

/// The catalogue rows are priced from, and a line saying where its prices came from.
#[derive(Clone, Debug)]
pub struct Pricing {
    pub catalog: Catalog,
    pub source: String,
}

impl Pricing {
    /// The catalogue at `path`, or the built-in one.
    pub fn catalogue(path: Option<&Path>) -> Result<Pricing, CmdError> {
        let catalog = kerf_sim::load_catalog(path)
            .map_err(|e| CmdError::invalid_flag("--catalog", e.to_string()))?;
        let source = match path {
            Some(path) => format!("catalogue {}", path.display()),
            None => format!("built-in {} catalogue", catalog.region),
        };
        Ok(Pricing { catalog, source })
    }

    /// The region's current AWS prices laid over this catalogue.
    #[cfg(feature = "aws")]
    pub async fn with_current_aws_prices(
        self,
        endpoint: &crate::cmd::aws_flags::AwsEndpoint,
    ) -> Result<Pricing, CmdError> {
        let mut settings = kerf_aws::AwsSettings::new(endpoint.region()?);
        settings.endpoint_url = endpoint.endpoint_url()?;
        let clients = kerf_aws::Clients::connect(&settings).await;
        let prices = kerf_aws::pricing::current(&clients, None).await;
        Ok(self.with_aws_prices(&prices, &settings.region))
    }

    /// Pure: `prices` laid over the catalogue, and the source line saying
    /// what came from where.
    #[cfg(feature = "aws")]
    pub fn with_aws_prices(mut self, prices: &kerf_aws::pricing::Prices, region: &str) -> Pricing {
        use kerf_aws::pricing::PriceSource;
        let applied = prices.apply_to(&mut self.catalog);
        let on_demand = match prices.on_demand_source {
            PriceSource::PricingApi => {
                format!("the Pricing API ({} types)", applied.on_demand)
            }
            PriceSource::Fallback => {
                format!("the {} (no answer from the Pricing API)", self.source)
            }
        };
        let spot = match applied.spot {
            0 => format!("the {} (no spot price history)", self.source),
            n => format!("the spot price history ({n} types)"),
        };
        Pricing {
            source: format!("AWS {region}, on-demand from {on_demand}, spot from {spot}"),
            catalog: self.catalog,
        }
    }
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use std::collections::BTreeMap;

    use kerf_aws::pricing::{PriceSource, Prices};

    use super::*;

    #[test]
    fn the_source_line_says_what_came_from_aws_and_what_did_not() {
        let spot: BTreeMap<String, BTreeMap<String, f64>> = [(
            "m5.large".to_string(),
            [("eu-west-1b".to_string(), 0.04)].into(),
        )]
        .into();
        let live = Prices {
            on_demand: [("m5.large".to_string(), 0.107)].into(),
            on_demand_source: PriceSource::PricingApi,
            spot,
        };
        let priced = Pricing::catalogue(None)
            .unwrap()
            .with_aws_prices(&live, "eu-west-1");
        assert_eq!(
            priced.source,
            "AWS eu-west-1, on-demand from the Pricing API (1 types), \
             spot from the spot price history (1 types)"
        );
        let m5 = priced.catalog.get("m5.large").unwrap();
        assert_eq!(m5.on_demand, Some(0.107));
        assert_eq!(m5.spot["eu-west-1b"], 0.04);

        let offline = Prices {
            on_demand: BTreeMap::new(),
            on_demand_source: PriceSource::Fallback,
            spot: BTreeMap::new(),
        };
        let priced = Pricing::catalogue(None)
            .unwrap()
            .with_aws_prices(&offline, "us-east-1");
        assert_eq!(
            priced.source,
            "AWS us-east-1, on-demand from the built-in us-east-1 catalogue (no answer from \
             the Pricing API), spot from the built-in us-east-1 catalogue (no spot price \
             history)"
        );
    }
}
