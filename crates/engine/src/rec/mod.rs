//! Recommendations: the recommender crate's models fitted on the store's events and served per
//! shopper (`serving`), SASRec trained into run directories (`train`), and every model measured
//! on sequence files with the published protocols (`eval`).

mod eval;
mod explain;
mod serving;
mod train;
mod training;

pub use eval::{RecEvalConfig, RecModel, eval_rec};
pub use explain::{Explanation, ExplanationSource, Reason};
pub(crate) use serving::RecommenderSlot;
pub use serving::{MAX_K, Recommendations, Recommended, Strategy};
pub use train::{RecAttributes, RecSource, RecTrainConfig, load_sequences, train_rec};
pub use training::{Training, TrainingRequest, TrainingState};
pub(crate) use training::{Trainings, run_name_ok};
pub use vitrine_recsys::{
    EpochRecord, ItemKnnConfig, Loss, SasRecConfig, Sequences, TrainConfig, TrainProgress,
};
