//! Prices against moto: the Pricing API is not served (moto) or unreachable
//! (a closed port), so on-demand prices fall back to the built-in table; spot
//! prices come from DescribeSpotPriceHistory.

use kerf_aws::pricing::{self, PriceSource};
use kerf_aws::{AwsSettings, Clients};

use super::support::*;

#[tokio::test]
async fn on_demand_falls_back_when_the_pricing_api_fails() {
    let (moto, c) = start_moto().await;
    let (prices, source) = pricing::on_demand_prices(&c.pricing, "us-east-1").await;
    assert_eq!(source, PriceSource::Fallback);
    assert_eq!(prices["m5.large"], 0.096);

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = AwsSettings::local(moto.endpoint());
    settings.pricing_endpoint_url = Some(format!("http://127.0.0.1:{closed}"));
    let unreachable = Clients::connect(&settings).await;
    let (prices, source) = pricing::on_demand_prices(&unreachable.pricing, "us-east-1").await;
    assert_eq!(source, PriceSource::Fallback);
    assert_eq!(
        prices["c5.xlarge"],
        pricing::fallback_on_demand()["c5.xlarge"]
    );
}

#[tokio::test]
async fn spot_prices_from_describe_spot_price_history() {
    let (_moto, c) = start_moto().await;
    let only = ["m5.large".to_string(), "c5.large".to_string()];
    let spot =
        pricing::spot::describe_spot_prices(&c.ec2, std::time::SystemTime::now(), Some(&only))
            .await
            .unwrap();
    assert_eq!(spot.keys().collect::<Vec<_>>(), ["c5.large", "m5.large"]);
    let m5 = &spot["m5.large"];
    assert!(
        m5.contains_key("us-east-1a") && m5.values().all(|p| *p > 0.0),
        "{m5:?}"
    );
}
