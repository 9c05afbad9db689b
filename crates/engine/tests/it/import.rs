//! Import: every format, every rejection reason, idempotency, strict mode, and the real
//! Myntra and Amazon Beauty files from ../shared/data.

use std::io::Write;
use std::path::{Path, PathBuf};

use vitrine_core::{EventKind, EventQuery, ProductQuery};
use vitrine_engine::import::{
    EventFormat, ImportEvent, ImportOptions, ImportReport, ProductFormat, Rejection,
};
use vitrine_engine::{Engine, EngineConfig, Error};

#[test]
fn duplicate_ids_in_one_file_are_rejected_and_reimport_stays_unchanged() {
    let f = fixture();
    let path = f.file(
        "dups.jsonl",
        b"{\"id\":\"a\",\"title\":\"A\",\"price\":\"1\"}\n{\"id\":\"b\",\"title\":\"B\",\"price\":\"1\"}\n{\"id\":\"a\",\"title\":\"A2\",\"price\":\"1\"}\n",
    );
    let small_batches = ImportOptions {
        batch_size: 1,
        ..ImportOptions::default()
    };
    for options in [ImportOptions::default(), small_batches] {
        let (r, rejected) = f.products(&path, &options);
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].line, 3);
        assert!(
            rejected[0].reason.contains("first at line 1"),
            "{}",
            rejected[0]
        );
        assert_eq!(r.updated, 0, "the first occurrence wins, every time");
        assert_eq!(f.engine.product("a").unwrap().title, "A");
    }
}

#[test]
fn bom_and_decimal_commas() {
    let f = fixture();
    let path = f.file(
        "bom.jsonl",
        "\u{feff}{\"id\":\"a\",\"title\":\"A\",\"price\":\"1,299.00\"}\n{\"id\":\"b\",\"title\":\"B\",\"price\":\"19,99\"}\n".as_bytes(),
    );
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!((r.imported, r.rejected), (1, 1));
    assert_eq!(f.engine.product("a").unwrap().price_minor, 129_900);
    assert!(
        rejected[0].reason.contains("not a number"),
        "{}",
        rejected[0]
    );
}

struct Fixture {
    dir: tempfile::TempDir,
    engine: Engine,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(&EngineConfig {
        db_path: dir.path().join("t.db"),
        default_currency: "USD".into(),
    })
    .unwrap();
    Fixture { dir, engine }
}

impl Fixture {
    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn products(&self, path: &Path, options: &ImportOptions) -> (ImportReport, Vec<Rejection>) {
        let mut rejected = Vec::new();
        let report = self
            .engine
            .import_products(path, None, options, &mut |e| {
                if let ImportEvent::Rejected(r) = e {
                    rejected.push(r);
                }
            })
            .unwrap();
        (report, rejected)
    }

    fn events(&self, path: &Path, options: &ImportOptions) -> (ImportReport, Vec<Rejection>) {
        let mut rejected = Vec::new();
        let report = self
            .engine
            .import_events(path, None, options, &mut |e| {
                if let ImportEvent::Rejected(r) = e {
                    rejected.push(r);
                }
            })
            .unwrap();
        (report, rejected)
    }

    fn count(&self) -> u64 {
        self.engine.stats().unwrap().products
    }
}

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/data is absent");
        None
    }
}

const JSONL: &str = r#"{"id":"a1","title":"Organic Tee","brand":"Northfold","category":"apparel","price":"19.90","currency":"USD","attributes":{"color":"green"},"description":"Soft tee."}
{"id":"a2","title":"Trail Runner","brand":"Kestrel","category":"footwear","price":89,"currency":"EUR"}

{"id":"a3","title":"Mug","price_minor":1200}
"#;

#[test]
fn jsonl_imports_and_reimport_changes_nothing() {
    let f = fixture();
    let path = f.file("catalog.jsonl", JSONL.as_bytes());
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(
        (r.imported, r.updated, r.unchanged, r.rejected),
        (3, 0, 0, 0)
    );
    assert_eq!(r.format, "jsonl");
    let a2 = f.engine.product("a2").unwrap();
    assert_eq!(
        (a2.price_minor, a2.currency.as_str(), a2.price.as_str()),
        (8900, "EUR", "89.00")
    );
    let before = f.engine.product("a1").unwrap();

    let (again, _) = f.products(&path, &ImportOptions::default());
    assert_eq!((again.imported, again.updated, again.unchanged), (0, 0, 3));
    assert_eq!(
        f.engine.product("a1").unwrap(),
        before,
        "an unchanged row is not rewritten"
    );

    let changed = JSONL.replace("\"19.90\"", "\"17.50\"");
    let path = f.file("catalog2.jsonl", changed.as_bytes());
    let (third, _) = f.products(&path, &ImportOptions::default());
    assert_eq!((third.imported, third.updated, third.unchanged), (0, 1, 2));
    assert_eq!(f.engine.product("a1").unwrap().price_minor, 1750);
    assert_eq!(f.count(), 3);
}

#[test]
fn every_rejection_reason_is_reported_with_its_line() {
    let f = fixture();
    let big = "x".repeat(64 * 1024 + 1);
    let mut content = Vec::new();
    let lines: Vec<Vec<u8>> = vec![
        br#"{"id":"ok1","title":"Fine","price":"1.00"}"#.to_vec(),
        br#"{"id":"m1","title":"Broken",#"#.to_vec(),
        br#"{"title":"No id","price":"1"}"#.to_vec(),
        br#"{"id":"t1","price":"1"}"#.to_vec(),
        br#"{"id":"n1","title":"Neg","price":"-3.00"}"#.to_vec(),
        br#"{"id":"n2","title":"NaN","price":"ten"}"#.to_vec(),
        br#"{"id":"c1","title":"Cur","price":"1","currency":"ABC"}"#.to_vec(),
        format!(r#"{{"id":"b1","title":"Big","price":"1","description":"{big}"}}"#).into_bytes(),
        [
            br#"{"id":"u1","title":"Bad "#.as_slice(),
            &[0xff, 0xfe],
            br#"","price":"1"}"#,
        ]
        .concat(),
        br#"{"id":"ok2","title":"Also fine","price":"2.00"}"#.to_vec(),
    ];
    for l in &lines {
        content.extend_from_slice(l);
        content.push(b'\n');
    }
    let path = f.file("bad.jsonl", &content);
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!((r.imported, r.rejected), (2, 8));
    let expect = [
        (2, "malformed JSON"),
        (3, "id: is missing"),
        (4, "title: is missing"),
        (5, "is negative"),
        (6, "is not a number"),
        (7, "not an ISO 4217 currency"),
        (8, "over the 64 KiB limit"),
        (9, "invalid UTF-8"),
    ];
    for ((line, reason), got) in expect.iter().zip(&rejected) {
        assert_eq!(got.line, *line, "{got}");
        assert!(got.reason.contains(reason), "line {line}: {got}");
        assert_eq!(got.path, path);
    }
    assert_eq!(f.count(), 2, "good rows land, bad rows do not");
}

#[test]
fn strict_import_is_all_or_nothing() {
    let f = fixture();
    let path = f.file(
        "strict.jsonl",
        b"{\"id\":\"s1\",\"title\":\"A\",\"price\":\"1\"}\n{\"id\":\"s2\",\"price\":\"1\"}\n{\"id\":\"s3\",\"title\":\"C\",\"price\":\"1\"}\n",
    );
    let options = ImportOptions {
        strict: true,
        batch_size: 1,
        ..ImportOptions::default()
    };
    let (report, rejected) = f.products(&path, &options);
    assert!(!report.committed);
    assert_eq!((report.imported, report.rejected), (0, 1));
    assert_eq!(rejected[0].line, 2);
    assert_eq!(f.count(), 0, "nothing lands from a failed strict import");

    let good = f.file(
        "good.jsonl",
        b"{\"id\":\"s1\",\"title\":\"A\",\"price\":\"1\"}\n",
    );
    let (r, _) = f.products(&good, &options);
    assert!(r.committed);
    assert_eq!(f.count(), 1);
}

#[test]
fn gzip_is_read_transparently() {
    let f = fixture();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(JSONL.as_bytes()).unwrap();
    let path = f.file("catalog.jsonl.gz", &gz.finish().unwrap());
    let (r, _) = f.products(&path, &ImportOptions::default());
    assert_eq!(r.imported, 3);
}

#[test]
fn generic_csv_maps_columns_and_keeps_the_rest_as_attributes() {
    let f = fixture();
    let csv = "id,title,brand,category,price,currency,Color,Material,image_urls\n\
               c1,Wool Scarf,Orla,apparel,24.50,EUR,grey,\"merino wool, 100%\",https://x/1.jpg|https://x/2.jpg\n\
               c2,\"Lamp, brass\",Ember,home,120,,gold,,\n\
               c3,Broken,Ember,home,12\n\
               c4,Negative,Ember,home,-1,,,,\n";
    let path = f.file("catalog.csv", csv.as_bytes());
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!(r.format, "csv");
    assert_eq!((r.imported, r.rejected), (2, 2));
    assert_eq!(rejected[0].line, 4);
    assert!(
        rejected[0].reason.contains("expected 9 fields, found 5"),
        "{}",
        rejected[0]
    );
    assert_eq!(rejected[1].line, 5);
    assert!(rejected[1].reason.contains("negative"));
    let c1 = f.engine.product("c1").unwrap();
    assert_eq!(c1.attributes["Material"], "merino wool, 100%");
    assert_eq!(c1.attributes["Color"], "grey");
    assert_eq!(c1.image_urls.len(), 2);
    assert_eq!((c1.price_minor, c1.currency.as_str()), (2450, "EUR"));
    let c2 = f.engine.product("c2").unwrap();
    assert_eq!(
        (c2.title.as_str(), c2.currency.as_str()),
        ("Lamp, brass", "USD")
    );
}

const SHOPIFY: &str = "Handle,Title,Body (HTML),Vendor,Type,Tags,Published,Option1 Name,Option1 Value,Option2 Name,Option2 Value,Variant SKU,Variant Price,Variant Compare At Price,Image Src\n\
organic-tee,Organic Tee,\"<p>Soft <strong>organic</strong> cotton &amp; more.</p>\",Northfold,Shirts,\"summer, cotton\",true,Size,S,Color,Green,TEE-S-G,19.00,25.00,https://cdn/tee1.jpg\n\
organic-tee,,,,,,,,M,,Green,TEE-M-G,21.00,,https://cdn/tee2.jpg\n\
organic-tee,,,,,,,,L,,Blue,TEE-L-B,21.00,,\n\
plain-mug,Plain Mug,<p>Stoneware.</p>,Ember,Kitchen,,true,Title,Default Title,,,MUG-1,12.00,,\n\
bad-cap,Bad Cap,,Orla,Hats,,true,Size,One,,,CAP-1,12.00,,\n\
bad-cap,,,,,,,,Two,,,CAP-2,twelve,,\n\
";

#[test]
fn shopify_variants_become_one_product() {
    let f = fixture();
    let path = f.file("products_export.csv", SHOPIFY.as_bytes());
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!(r.format, "shopify");
    assert_eq!((r.imported, r.rejected), (2, 2), "{rejected:?}");
    let tee = f.engine.product("organic-tee").unwrap();
    assert_eq!(tee.title, "Organic Tee");
    assert_eq!(
        tee.description.as_deref(),
        Some("Soft organic cotton & more.")
    );
    assert_eq!(tee.brand.as_deref(), Some("Northfold"));
    assert_eq!(tee.category.as_deref(), Some("Shirts"));
    assert_eq!(tee.price_minor, 1900, "the lowest variant price");
    assert_eq!(tee.sku.as_deref(), Some("TEE-S-G"));
    assert_eq!(
        tee.image_urls,
        vec!["https://cdn/tee1.jpg", "https://cdn/tee2.jpg"]
    );
    let variants = tee.attributes["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 3);
    assert_eq!(variants[1]["options"]["Size"], "M");
    assert_eq!(variants[0]["compare_at_price"], "25.00");
    assert_eq!(
        tee.attributes["options"]["Size"],
        serde_json::json!(["S", "M", "L"])
    );
    assert_eq!(
        tee.attributes["options"]["Color"],
        serde_json::json!(["Green", "Blue"])
    );
    assert_eq!(
        tee.attributes["tags"],
        serde_json::json!(["summer", "cotton"])
    );
    let mug = f.engine.product("plain-mug").unwrap();
    assert!(
        mug.attributes.get("options").is_none(),
        "Default Title is not an option"
    );
    // One bad variant rejects its whole product, each line reported.
    assert!(f.engine.product("bad-cap").is_err());
    assert_eq!((rejected[0].line, rejected[1].line), (6, 7));
    assert!(rejected[0].reason.contains("rejected because line 7"));
    assert!(rejected[1].reason.contains("not a number"));
}

#[test]
fn myntra_format_is_detected_and_priced_in_rupees() {
    let f = fixture();
    let csv = "Product_ID,Product_Name,Product_Brand,Gender,Price,Num_Images,Description,Primary_Color,\n\
               101,Roadster Men Navy Shirt,Roadster,Men,899,5,\"Navy shirt, has a collar\", Navy,\n\
               102,Nameless,Brand,Women,abc,5,desc, Red,\n";
    let path = f.file("myntra.csv", csv.as_bytes());
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!(r.format, "myntra");
    assert_eq!((r.imported, r.rejected), (1, 1));
    assert_eq!(rejected[0].line, 3);
    let p = f.engine.product("101").unwrap();
    assert_eq!((p.price_minor, p.currency.as_str()), (89_900, "INR"));
    assert_eq!(p.attributes["primary_color"], "Navy");
    assert_eq!(p.attributes["gender"], "Men");
    assert_eq!(p.attributes["num_images"], 5);
}

#[test]
fn real_myntra_catalog_imports_whole() {
    let Some(data) = shared_data() else { return };
    let f = fixture();
    let path = data.join("myntra-products/myntra_products_catalog.csv.gz");
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!(r.format, "myntra");
    assert!(
        rejected.is_empty(),
        "{:?}",
        &rejected[..rejected.len().min(5)]
    );
    assert_eq!(r.imported, 10_031);
    let p = f.engine.product("10017413").unwrap();
    assert_eq!(p.brand.as_deref(), Some("DKNY"));
    assert_eq!(p.price_minor, 1_174_500);
    let found = f
        .engine
        .products(&ProductQuery {
            text: Some("trolley bag".into()),
            brand: Some("DKNY".into()),
            limit: 1000,
            ..ProductQuery::default()
        })
        .unwrap();
    assert!(found.items.iter().any(|p| p.id == "10017413"));
    assert!(
        found
            .items
            .iter()
            .all(|p| p.brand.as_deref() == Some("DKNY"))
    );
    let (again, _) = f.products(&path, &ImportOptions::default());
    assert_eq!(
        (again.imported, again.updated, again.unchanged),
        (0, 0, 10_031)
    );
}

#[test]
fn events_jsonl_dedupes_on_reimport() {
    let f = fixture();
    let events = r#"{"shopper":"s1","product":"p1","kind":"view","ts":"2026-10-01T10:00:00Z"}
{"shopper":"s1","product":"p1","kind":"cart","ts":"2026-10-01T10:01:00Z"}
{"shopper":"s2","product":"p2","kind":"impression","ts":"2026-10-01T10:02:00Z","variant":"v-a"}
{"shopper":"s2","product":"p2","kind":"like","ts":"2026-10-01T10:03:00Z"}
{"shopper":"s2","product":"p2","kind":"view"}
{"shopper":"s1","product":"p1","kind":"view","ts":"2026-10-01T10:00:00Z"}
"#;
    let path = f.file("events.jsonl", events.as_bytes());
    let (r, rejected) = f.events(&path, &ImportOptions::default());
    assert_eq!(
        (r.imported, r.unchanged, r.rejected),
        (3, 1, 2),
        "{rejected:?}"
    );
    assert_eq!((rejected[0].line, rejected[1].line), (4, 5));
    assert!(rejected[0].reason.contains("kind"));
    assert!(rejected[1].reason.contains("ts: is missing"));
    let (again, _) = f.events(&path, &ImportOptions::default());
    assert_eq!((again.imported, again.unchanged), (0, 4));
    assert_eq!(f.engine.stats().unwrap().events, 3);
    let s2 = f
        .engine
        .shopper_events(
            "s2",
            EventQuery {
                limit: 10,
                ..EventQuery::default()
            },
        )
        .unwrap();
    assert_eq!(s2.items[0].variant.as_deref(), Some("v-a"));
}

#[test]
fn s3rec_sequences_keep_order() {
    let f = fixture();
    let path = f.file("Tiny.txt", b"1 1 2 3 4 5\n2 4 5 6 7 8\n3 x 9\n4\n");
    let (r, rejected) = f.events(&path, &ImportOptions::default());
    assert_eq!(r.format, "s3rec");
    assert_eq!((r.imported, r.rejected), (10, 2), "{rejected:?}");
    let s1 = f
        .engine
        .shopper_events(
            "Tiny:1",
            EventQuery {
                limit: 10,
                ..EventQuery::default()
            },
        )
        .unwrap();
    let order: Vec<&str> = s1.items.iter().rev().map(|e| e.product.as_str()).collect();
    assert_eq!(order, ["Tiny:1", "Tiny:2", "Tiny:3", "Tiny:4", "Tiny:5"]);
    assert!(s1.items.iter().all(|e| e.kind == EventKind::Purchase));
    // Another dataset with the same numbers stays apart.
    let other = f.file(
        "Other.txt",
        b"1 1 2
",
    );
    let (r, _) = f.events(&other, &ImportOptions::default());
    assert_eq!((r.imported, r.unchanged), (2, 0));
}

#[test]
fn real_beauty_sequences_import_whole() {
    let Some(data) = shared_data() else { return };
    let f = fixture();
    let path = data.join("amazon-seqrec-s3rec/Beauty.txt.gz");
    let options = ImportOptions {
        batch_size: 20_000,
        ..ImportOptions::default()
    };
    let (r, rejected) = f.events(&path, &options);
    assert_eq!(r.format, "s3rec");
    assert!(rejected.is_empty());
    // The dataset README counts 22,363 users and 198,502 interactions.
    let stats = f.engine.stats().unwrap();
    assert_eq!(stats.shoppers, 22_363);
    assert_eq!(r.records, 198_502);
    // A user may review the same item twice; those stay two events (different positions).
    assert_eq!(stats.events, 198_502);
}

#[test]
fn explicit_format_overrides_detection() {
    let f = fixture();
    let path = f.file("export.data", JSONL.as_bytes());
    let report = f
        .engine
        .import_products(
            &path,
            Some(ProductFormat::Jsonl),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(report.imported, 3);
    let path = f.file("seq.data", b"1 2 3\n");
    let report = f
        .engine
        .import_events(
            &path,
            Some(EventFormat::S3Rec),
            &ImportOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    assert_eq!(report.imported, 2);
    let missing = f.engine.import_products(
        &f.dir.path().join("nope.csv"),
        None,
        &ImportOptions::default(),
        &mut |_| {},
    );
    assert!(matches!(missing, Err(Error::File { .. })));
}

#[test]
fn unclosed_quote_stops_with_a_clear_error_instead_of_eating_memory() {
    let f = fixture();
    let mut csv = String::from("id,title,price\ngood,Fine,1.00\nbad,\"never closed,2.00\n");
    for i in 0..200_000 {
        csv.push_str(&format!("p{i},Row {i},1.00\n"));
    }
    let path = f.file("broken.csv", csv.as_bytes());
    let err = f
        .engine
        .import_products(&path, None, &ImportOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("unclosed quote"), "{err}");
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn shopify_unreadable_first_row_rejects_its_own_product_only() {
    let f = fixture();
    // Line 3 (the first row of "cap") has a field too many; line 4 continues "cap".
    let csv = "Handle,Title,Vendor,Option1 Name,Option1 Value,Variant SKU,Variant Price\n\
               mug,Mug,Ember,Title,Default Title,MUG-1,12.00\n\
               cap,Cap,Orla,Size,One,CAP-1,9.00,extra\n\
               cap,,,,Two,CAP-2,9.00\n\
               tee,Tee,Northfold,Size,S,TEE-S,19.00\n";
    let path = f.file("products_export.csv", csv.as_bytes());
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!((r.imported, r.rejected), (2, 2), "{rejected:?}");
    assert!(
        f.engine.product("mug").is_ok(),
        "the product before is untouched"
    );
    assert!(f.engine.product("tee").is_ok());
    assert_eq!((rejected[0].line, rejected[1].line), (3, 4));
}

#[test]
fn csv_rejects_invalid_utf8_and_oversized_fields_per_row() {
    let f = fixture();
    let mut csv = b"id,title,price,notes\nok,Fine,1.00,plain\n".to_vec();
    csv.extend_from_slice(b"u1,Bad \xff\xfe title,1.00,x\n");
    csv.extend_from_slice(format!("big,Big,1.00,{}\n", "y".repeat(64 * 1024 + 1)).as_bytes());
    csv.extend_from_slice(b"ok2,Also fine,2.00,\n");
    let path = f.file("rows.csv", &csv);
    let (r, rejected) = f.products(&path, &ImportOptions::default());
    assert_eq!((r.imported, r.rejected), (2, 2), "{rejected:?}");
    assert_eq!(rejected[0].line, 3);
    assert!(
        rejected[0]
            .reason
            .contains("invalid UTF-8 in column 'title'"),
        "{}",
        rejected[0]
    );
    assert_eq!(rejected[1].line, 4);
    assert!(rejected[1].reason.contains("column 'notes'") && rejected[1].reason.contains("64 KiB"));
}
