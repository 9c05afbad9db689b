//! Recommendations: the recommender crate's models fitted on the store's events and served per
//! shopper (`serving`), and measured on sequence files with the published protocols (`eval`).

mod eval;
mod serving;

pub use eval::{RecEvalConfig, RecModel, eval_rec};
pub(crate) use serving::RecommenderSlot;
pub use serving::{MAX_K, Recommendations, Recommended, Strategy};
pub use vitrine_recsys::ItemKnnConfig;
