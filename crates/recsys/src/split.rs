//! The leave-one-out split of the published tables (SASRec, S3-Rec): a shopper's last item is the
//! test target, the one before it the validation target, and everything earlier trains. Shoppers
//! with fewer than three items only train.

use serde::Serialize;

/// Which held-out item is the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The second-to-last item, predicted from the items before it.
    Valid,
    /// The last item, predicted from every item before it (the validation item included).
    Test,
}

impl Stage {
    /// The stage's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Valid => "valid",
            Stage::Test => "test",
        }
    }
}

/// Shortest sequence that is evaluated: one training item, a validation and a test target.
pub const MIN_EVALUATED: usize = 3;

/// The items a shopper's sequence contributes to training.
pub fn train_part(seq: &[u32]) -> &[u32] {
    if seq.len() >= MIN_EVALUATED {
        &seq[..seq.len() - 2]
    } else {
        seq
    }
}

/// The history the model sees and the target it must rank, or `None` for a shopper too short to
/// be evaluated.
pub fn held_out(seq: &[u32], stage: Stage) -> Option<(&[u32], u32)> {
    if seq.len() < MIN_EVALUATED {
        return None;
    }
    let end = match stage {
        Stage::Valid => seq.len() - 2,
        Stage::Test => seq.len() - 1,
    };
    Some((&seq[..end], seq[end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_is_test_second_to_last_is_validation() {
        let seq = [4, 5, 6, 7, 8];
        assert_eq!(train_part(&seq), &[4, 5, 6]);
        assert_eq!(held_out(&seq, Stage::Valid), Some((&seq[..3], 7)));
        assert_eq!(held_out(&seq, Stage::Test), Some((&seq[..4], 8)));
    }

    #[test]
    fn short_sequences_only_train() {
        assert_eq!(train_part(&[1, 2]), &[1, 2]);
        assert_eq!(held_out(&[1, 2], Stage::Test), None);
        assert_eq!(held_out(&[1, 2, 3], Stage::Valid), Some((&[1][..], 2)));
    }
}
