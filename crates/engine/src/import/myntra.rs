//! The Myntra fashion catalog CSV (`Product_ID,Product_Name,Product_Brand,Gender,Price,
//! Num_Images,Description,Primary_Color,`): prices are whole rupees, so the currency is INR;
//! gender, colour and image count become attributes. The source has no category column, and
//! none is invented.

use serde_json::{Map, Value};
use vitrine_core::{ProductDraft, ProductInput};

use super::delimited::CsvRows;
use super::{Record, Records, Source};
use crate::{Error, Result};

pub(crate) fn products(source: Source) -> Result<Records<'static, ProductDraft>> {
    let rows = CsvRows::new(source)?;
    let col = |name: &str| {
        rows.column(&[name])
            .ok_or_else(|| Error::Format(format!("Myntra catalog without a '{name}' column")))
    };
    let id = col("Product_ID")?;
    let title = col("Product_Name")?;
    let brand = col("Product_Brand")?;
    let gender = col("Gender")?;
    let price = col("Price")?;
    let images = col("Num_Images")?;
    let description = col("Description")?;
    let colour = col("Primary_Color")?;
    Ok(Box::new(rows.map(move |row| {
        let (line, cells) = row?;
        let convert = |cells: Vec<String>| -> std::result::Result<ProductDraft, String> {
            let get = |i: usize| cells.get(i).filter(|s| !s.is_empty()).cloned();
            let mut attributes = Map::new();
            if let Some(g) = get(gender) {
                attributes.insert("gender".into(), Value::String(g));
            }
            if let Some(c) = get(colour) {
                attributes.insert("primary_color".into(), Value::String(c));
            }
            if let Some(n) = get(images) {
                let n: u32 = n
                    .parse()
                    .map_err(|_| format!("Num_Images: '{n}' is not a whole number"))?;
                attributes.insert("num_images".into(), Value::from(n));
            }
            ProductInput {
                id: get(id),
                title: get(title),
                brand: get(brand),
                price: get(price).map(Value::String),
                currency: Some("INR".into()),
                description: get(description),
                attributes: Some(attributes),
                ..ProductInput::default()
            }
            .into_draft("INR")
            .map_err(|e| e.to_string())
        };
        Ok(match cells.and_then(convert) {
            Ok(d) => Record::Ok(line, d),
            Err(reason) => Record::Rejected(vec![(line, reason)]),
        })
    })))
}
