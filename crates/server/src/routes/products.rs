//! `/v1/products`: the catalog's list, search and CRUD.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_core::{Error as CoreError, Page, Product, ProductInput, ProductQuery, parse_price};

use crate::extract::{Json, Path, Query};
use crate::{ApiError, AppState, ErrorBody};

/// Filters and paging for the product list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Rows to skip (default 0).
    offset: Option<u64>,
    /// Full-text search over title, brand and description; results are ranked by relevance.
    q: Option<String>,
    /// Exact brand.
    brand: Option<String>,
    /// Exact category.
    category: Option<String>,
    /// ISO 4217 currency; also the currency of `min_price` and `max_price`.
    currency: Option<String>,
    /// Lowest price, inclusive, as a decimal ("10.50").
    min_price: Option<String>,
    /// Highest price, inclusive, as a decimal.
    max_price: Option<String>,
}

impl ListParams {
    fn into_query(self, default_currency: &str) -> vitrine_core::Result<ProductQuery> {
        let currency = given(self.currency).map(|c| c.to_ascii_uppercase());
        if let Some(c) = &currency {
            vitrine_core::currency_exponent(c)?;
        }
        let min_price = price_bound(
            "min_price",
            self.min_price,
            currency.as_deref().unwrap_or(default_currency),
        )?;
        let max_price = price_bound(
            "max_price",
            self.max_price,
            currency.as_deref().unwrap_or(default_currency),
        )?;
        // Prices in different currencies cannot be compared: a price range without a currency
        // means the default currency, and only products priced in it match.
        let currency = match currency {
            None if min_price.is_some() || max_price.is_some() => {
                Some(default_currency.to_string())
            }
            other => other,
        };
        Ok(ProductQuery {
            min_price_minor: min_price,
            max_price_minor: max_price,
            text: given(self.q),
            brand: given(self.brand),
            category: given(self.category),
            currency,
            limit: self.limit.unwrap_or(super::DEFAULT_LIMIT),
            offset: self.offset.unwrap_or(0),
        })
    }
}

/// An empty query parameter means "no filter", as if it were absent.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn price_bound(
    field: &str,
    text: Option<String>,
    currency: &str,
) -> vitrine_core::Result<Option<i64>> {
    let Some(text) = given(text) else {
        return Ok(None);
    };
    parse_price(&text, currency).map(Some).map_err(|e| match e {
        CoreError::Invalid { field: f, reason } if f == "price" => {
            CoreError::invalid(field, reason)
        }
        other => other,
    })
}

/// Lists and searches the catalog.
#[utoipa::path(
    get,
    path = "/v1/products",
    operation_id = "list_products",
    tag = "products",
    params(ListParams),
    responses(
        (status = 200, description = "One page of products", body = Page<Product>),
        (status = 400, description = "Malformed query string", body = ErrorBody),
        (status = 422, description = "A filter is out of range or not a price", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<Page<Product>>, ApiError> {
    let page = state
        .engine(move |engine| {
            let query = params.into_query(engine.default_currency())?;
            engine.products(&query)
        })
        .await?;
    Ok(Json(page))
}

/// Creates a product.
#[utoipa::path(
    post,
    path = "/v1/products",
    operation_id = "create_product",
    tag = "products",
    request_body = ProductInput,
    responses(
        (status = 201, description = "Created", body = Product,
            headers(("Location" = String, description = "The new product's URL"))),
        (status = 409, description = "A product with this id exists", body = ErrorBody),
        (status = 422, description = "The product breaks a rule", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    Json(input): Json<ProductInput>,
) -> Result<impl IntoResponse, ApiError> {
    let product = state
        .engine(move |engine| engine.create_product(input))
        .await?;
    let location = HeaderValue::try_from(location(&product.id))
        .map_err(|e| ApiError::Internal(format!("location header: {e}")))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(product),
    ))
}

/// The product's URL, its id percent-encoded so that any id makes a valid header and path.
fn location(id: &str) -> String {
    let mut url = String::from("/v1/products/");
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// What a product read may add.
/// Other query parameters (a cache-buster) are ignored, as they always were on this route.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShowParams {
    /// `published`: add the approved generated content (what shoppers may see) under
    /// `content`, by kind; an approved description also replaces `description`.
    content: Option<String>,
}

/// A product with its approved generated content.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProductWithContent {
    /// The product.
    #[serde(flatten)]
    product: Product,
    /// Approved content by kind (`description`, `seo`, `search`, …); drafts never appear.
    #[schema(value_type = Object)]
    content: serde_json::Map<String, serde_json::Value>,
}

/// One product; with `?content=published`, with its approved generated content.
#[utoipa::path(
    get,
    path = "/v1/products/{id}",
    operation_id = "get_product",
    tag = "products",
    params(("id" = String, Path, description = "Product id"), ShowParams),
    responses(
        (status = 200, description = "The product (with `content` when asked for)", body = ProductWithContent),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "`content` is not `published`", body = ErrorBody),
    )
)]
pub(crate) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<ShowParams>,
) -> Result<Response, ApiError> {
    match params.content.as_deref().map(str::trim) {
        None | Some("") => {
            Ok(Json(state.engine(move |engine| engine.product(&id)).await?).into_response())
        }
        Some("published") => {
            let (mut product, content) = state
                .engine(move |engine| Ok((engine.product(&id)?, engine.published(&id)?)))
                .await?;
            if let Some(text) = content
                .get("description")
                .and_then(|d| d.get("text"))
                .and_then(|t| t.as_str())
            {
                product.description = Some(text.to_owned());
            }
            Ok(Json(ProductWithContent { product, content }).into_response())
        }
        Some(other) => Err(ApiError::Invalid(format!(
            "content: '{other}' is not a content view; the one view is published"
        ))),
    }
}

/// Replaces a product's whole content: fields left out are cleared.
#[utoipa::path(
    put,
    path = "/v1/products/{id}",
    operation_id = "replace_product",
    tag = "products",
    params(("id" = String, Path, description = "Product id")),
    request_body = ProductInput,
    responses(
        (status = 200, description = "The replaced product", body = Product),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "The product breaks a rule", body = ErrorBody),
    )
)]
pub(crate) async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(input): Json<ProductInput>,
) -> Result<Json<Product>, ApiError> {
    let product = state
        .engine(move |engine| engine.replace_product(&id, input))
        .await?;
    Ok(Json(product))
}

/// Changes only the fields given.
#[utoipa::path(
    patch,
    path = "/v1/products/{id}",
    operation_id = "patch_product",
    tag = "products",
    params(("id" = String, Path, description = "Product id")),
    request_body = ProductInput,
    responses(
        (status = 200, description = "The updated product", body = Product),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 422, description = "The result breaks a rule", body = ErrorBody),
    )
)]
pub(crate) async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(input): Json<ProductInput>,
) -> Result<Json<Product>, ApiError> {
    let product = state
        .engine(move |engine| engine.patch_product(&id, input))
        .await?;
    Ok(Json(product))
}

/// Deletes a product; its events stay as history.
#[utoipa::path(
    delete,
    path = "/v1/products/{id}",
    operation_id = "delete_product",
    tag = "products",
    params(("id" = String, Path, description = "Product id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such product", body = ErrorBody),
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .engine(move |engine| engine.delete_product(&id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_percent_encoded() {
        assert_eq!(location("tee-01"), "/v1/products/tee-01");
        assert_eq!(location("a b/c"), "/v1/products/a%20b%2Fc");
        assert_eq!(location("é"), "/v1/products/%C3%A9");
    }

    #[test]
    fn price_filters_are_parsed_in_their_currency() {
        let params = ListParams {
            limit: None,
            offset: None,
            q: Some(" ".into()),
            brand: None,
            category: None,
            currency: Some("jpy".into()),
            min_price: Some("1500".into()),
            max_price: None,
        };
        let query = params.into_query("USD").unwrap();
        assert_eq!(query.min_price_minor, Some(1500));
        assert_eq!(query.currency.as_deref(), Some("JPY"));
        assert_eq!((query.text, query.limit), (None, 50));
        match price_bound("max_price", Some("ten".into()), "USD") {
            Err(CoreError::Invalid { field, .. }) => assert_eq!(field, "max_price"),
            other => panic!("{other:?}"),
        }
    }
}
