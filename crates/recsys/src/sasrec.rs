//! SASRec: "Self-Attentive Sequential Recommendation", Kang & McAuley, ICDM 2018.
//!
//! Causal self-attention over a shopper's last `max_len` items, with learned positional
//! embeddings; the item embedding is shared with the output layer, so the score of item `j` at
//! a position is the position's hidden state dotted with `j`'s embedding. Blocks are pre-LN as
//! in the paper's official code (`x + Dropout(Attention(LayerNorm(x)))`, then the same around a
//! point-wise feed-forward), padding positions are zeroed after every block (the paper's
//! timeline mask), and item embeddings are scaled by sqrt(d) before positions are added.
//!
//! With item attributes (`SasRecConfig::attributes` > 0), an item's embedding is its own row
//! plus the mean of its attributes' rows (brand, categories), in the input and in the output
//! layer alike: a rarely bought item starts from what its brand and categories learned.
//!
//! # Shapes
//! - input: item indices `[batch, len]`, left-padded with 0, `len <= max_len`;
//! - hidden states: `[batch, len, hidden]`; position `len - 1` is the latest item, and it always
//!   gets positional embedding `max_len - 1`, whatever the batch's `len`;
//! - scores: `[batch, n_items]`, column `j` for item index `j + 1` (the padding row has none).

use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig,
    Linear, LinearConfig,
};
use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::attributes::ItemAttributes;

/// The model's shape; saved as the run's `config.json` beside the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SasRecConfig {
    /// Items (indices 1 to this; 0 is padding).
    pub n_items: usize,
    /// Longest history read, latest items kept (50 in the paper and in S3-Rec's tables).
    pub max_len: usize,
    /// Embedding and hidden width (64 in S3-Rec's tables).
    pub hidden: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Self-attention blocks.
    pub blocks: usize,
    /// Dropout on embeddings, attention weights and block outputs (0.2: on Beauty it reached a
    /// validation NDCG@10 of 0.062 where 0.5 trailed after the first epoch).
    pub dropout: f64,
    /// Distinct item attributes embedded beside the items (0: items only, the paper's model).
    #[serde(default)]
    pub attributes: usize,
}

impl SasRecConfig {
    /// The settings of the published tables for `n_items` items.
    pub fn new(n_items: usize) -> Self {
        Self {
            n_items,
            max_len: 50,
            hidden: 64,
            heads: 2,
            blocks: 2,
            dropout: 0.2,
            attributes: 0,
        }
    }
}

/// One block: causal self-attention, then the point-wise feed-forward network.
#[derive(Module, Debug)]
struct Block {
    ln_attn: LayerNorm,
    attn: MultiHeadAttention,
    ln_ffn: LayerNorm,
    ff1: Linear,
    ff2: Linear,
    drop: Dropout,
}

impl Block {
    /// `x` `[B, L, d]`; `keep` `[B, L, 1]` (1 for an item, 0 for padding); `pad` `[B, L]` (true
    /// for a padding key); `causal` `[B, L, L]` (true for a future key).
    fn forward(
        &self,
        x: Tensor<3>,
        keep: Tensor<3>,
        pad: Tensor<2, Bool>,
        causal: Tensor<3, Bool>,
    ) -> Tensor<3> {
        let h = self.ln_attn.forward(x.clone());
        let a = self
            .attn
            .forward(MhaInput::self_attn(h).mask_pad(pad).mask_attn(causal))
            .context;
        let x = x + self.drop.forward(a);
        let h = self.ln_ffn.forward(x.clone());
        let f = self
            .ff2
            .forward(self.drop.forward(relu(self.ff1.forward(h))));
        (x + self.drop.forward(f)) * keep
    }
}

/// The SASRec network.
#[derive(Module, Debug)]
pub struct SasRec {
    /// `[n_items + 1, d]`; row 0 is padding. Also the output layer.
    item_emb: Embedding,
    /// `[max_len, d]`; row `max_len - 1` is the latest item's.
    pos_emb: Embedding,
    emb_drop: Dropout,
    blocks: Vec<Block>,
    ln_final: LayerNorm,
    /// `[attributes, d]`, when the items have attributes.
    attr_emb: Option<Embedding>,
    /// Which attribute rows each item's embedding adds, and with what weight.
    #[module(skip)]
    pairs: AttributePairs,
}

/// The flat item-attribute pairs of `ItemAttributes::weighted_pairs`.
#[derive(Debug, Clone, Default)]
struct AttributePairs {
    items: Vec<i64>,
    attrs: Vec<i64>,
    weights: Vec<f32>,
}

impl SasRec {
    /// A freshly initialised network on `device` (Xavier-normal embeddings as the official
    /// code; seed the device first for a reproducible start). `attributes` must have
    /// `config.attributes` attributes for `config.n_items` items (`None` when that is 0).
    pub fn new(
        config: &SasRecConfig,
        attributes: Option<&ItemAttributes>,
        device: &Device,
    ) -> Self {
        let d = config.hidden;
        let xavier = |fan_in: usize, fan_out: usize| Initializer::Normal {
            mean: 0.0,
            std: (2.0 / (fan_in + fan_out) as f64).sqrt(),
        };
        let blocks = (0..config.blocks)
            .map(|_| Block {
                ln_attn: LayerNormConfig::new(d).with_epsilon(1e-8).init(device),
                attn: MultiHeadAttentionConfig::new(d, config.heads)
                    .with_dropout(config.dropout)
                    .init(device),
                ln_ffn: LayerNormConfig::new(d).with_epsilon(1e-8).init(device),
                ff1: LinearConfig::new(d, d).init(device),
                ff2: LinearConfig::new(d, d).init(device),
                drop: DropoutConfig::new(config.dropout).init(),
            })
            .collect();
        Self {
            item_emb: EmbeddingConfig::new(config.n_items + 1, d)
                .with_initializer(xavier(config.n_items + 1, d))
                .init(device),
            pos_emb: EmbeddingConfig::new(config.max_len, d)
                .with_initializer(xavier(config.max_len, d))
                .init(device),
            emb_drop: DropoutConfig::new(config.dropout).init(),
            blocks,
            ln_final: LayerNormConfig::new(d).with_epsilon(1e-8).init(device),
            attr_emb: (config.attributes > 0).then(|| {
                EmbeddingConfig::new(config.attributes, d)
                    .with_initializer(xavier(config.attributes, d))
                    .init(device)
            }),
            pairs: match attributes {
                Some(a) if config.attributes > 0 => {
                    let (items, attrs, weights) = a.weighted_pairs();
                    AttributePairs {
                        items,
                        attrs,
                        weights,
                    }
                }
                _ => AttributePairs::default(),
            },
        }
    }

    /// Every item's embedding `[n_items + 1, d]` (row 0 is padding): its own row, plus the
    /// mean of its attributes' rows when there are attributes.
    pub fn item_table(&self) -> Tensor<2> {
        let own = self.item_emb.weight.val();
        let Some(attr) = &self.attr_emb else {
            return own;
        };
        if self.pairs.items.is_empty() {
            return own;
        }
        let device = own.device();
        let p = self.pairs.items.len();
        let index =
            |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [p]), &device);
        let weights =
            Tensor::<2>::from_data(TensorData::new(self.pairs.weights.clone(), [p, 1]), &device);
        let rows = attr.weight.val().select(0, index(&self.pairs.attrs)) * weights;
        own.select_assign(0, index(&self.pairs.items), rows, IndexingUpdateOp::Add)
    }

    /// Hidden states `[B, L, d]` of left-padded item indices `[B, L]`.
    pub fn forward(&self, items: Tensor<2, Int>) -> Tensor<3> {
        self.forward_with(self.item_table(), items)
    }

    /// `forward` with the item table already computed (`item_table`), as training and
    /// serving do, since the output layer needs it too.
    pub fn forward_with(&self, table: Tensor<2>, items: Tensor<2, Int>) -> Tensor<3> {
        let [b, l] = items.dims();
        let [max_len, d] = self.pos_emb.weight.dims();
        let device = items.device();
        let pad = items.clone().equal_elem(0);
        let keep = pad.clone().bool_not().float().unsqueeze_dim::<3>(2);
        let x = table.select(0, items.reshape([b * l])).reshape([b, l, d]) * (d as f64).sqrt();
        let pos = self
            .pos_emb
            .weight
            .val()
            .slice(s![max_len - l..max_len, ..])
            .unsqueeze::<3>();
        let mut x = self.emb_drop.forward(x + pos) * keep.clone();
        let causal = Tensor::<2, Bool>::tril_mask([l, l], 0, &device)
            .unsqueeze::<3>()
            .expand([b, l, l]);
        for block in &self.blocks {
            x = block.forward(x, keep.clone(), pad.clone(), causal.clone());
        }
        self.ln_final.forward(x)
    }

    /// The output item matrix `[n_items, d]` (the item table without its padding row): row
    /// `j` is item index `j + 1`.
    pub fn output_items(&self) -> Tensor<2> {
        output_rows(self.item_table())
    }
}

/// The output rows `[n_items, d]` of an item table `[n_items + 1, d]`.
pub fn output_rows(table: Tensor<2>) -> Tensor<2> {
    let n = table.dims()[0];
    table.slice(s![1..n, ..])
}

/// Left-pads histories (each cut to its latest `max_len` items) to the longest: the flat
/// `[rows, len]` indices and `len` (at least 1).
pub fn left_pad(rows: &[&[u32]], max_len: usize) -> (Vec<i64>, usize) {
    let tail = |r: &&[u32]| -> usize { r.len().min(max_len) };
    let l = rows.iter().map(tail).max().unwrap_or(0).max(1);
    let mut out = vec![0i64; rows.len() * l];
    for (i, r) in rows.iter().enumerate() {
        let r = &r[r.len() - tail(r)..];
        for (j, &v) in r.iter().enumerate() {
            out[i * l + l - r.len() + j] = i64::from(v);
        }
    }
    (out, l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> SasRecConfig {
        SasRecConfig {
            n_items: 7,
            max_len: 4,
            hidden: 8,
            heads: 2,
            blocks: 1,
            dropout: 0.0,
            attributes: 0,
        }
    }

    #[test]
    fn left_pad_keeps_the_latest_items() {
        let (flat, l) = left_pad(&[&[1, 2, 3, 4, 5, 6], &[7]], 4);
        assert_eq!(l, 4);
        assert_eq!(flat, vec![3, 4, 5, 6, 0, 0, 0, 7]);
        assert_eq!(left_pad(&[&[]], 4), (vec![0], 1));
    }

    #[test]
    fn attributes_add_their_mean_to_the_item_rows() {
        use crate::sequences::Sequences;
        let device = Device::flex();
        device.seed(1);
        let data = Sequences::from_pairs([("u", "x"), ("u", "y"), ("u", "z")]);
        let attributes = ItemAttributes::from_pairs(&data, [("x", "a"), ("y", "a"), ("y", "b")]);
        let config = SasRecConfig {
            n_items: 3,
            attributes: 2,
            ..tiny()
        };
        let model = SasRec::new(&config, Some(&attributes), &device);
        let rows = |t: Tensor<2>| -> Vec<Vec<f32>> {
            let v: Vec<f32> = t.try_into_vec_as().unwrap();
            v.chunks(8).map(<[f32]>::to_vec).collect()
        };
        let own = rows(model.item_emb.weight.val());
        let attr = rows(model.attr_emb.as_ref().unwrap().weight.val());
        let table = rows(model.item_table());
        for k in 0..8 {
            assert_eq!(table[0][k], own[0][k], "padding has no attributes");
            assert!((table[1][k] - (own[1][k] + attr[0][k])).abs() < 1e-6);
            let mean = (attr[0][k] + attr[1][k]) / 2.0;
            assert!((table[2][k] - (own[2][k] + mean)).abs() < 1e-6);
            assert_eq!(table[3][k], own[3][k], "z has no attributes");
        }
        assert_eq!(model.output_items().dims(), [3, 8]);
    }

    #[test]
    fn shapes_and_causality() {
        let device = Device::flex();
        device.seed(1);
        let model = SasRec::new(&tiny(), None, &device);
        let (flat, l) = left_pad(&[&[1, 2, 3], &[4, 5]], 4);
        let x = Tensor::<2, Int>::from_data(TensorData::new(flat, [2, l]), &device);
        let h = model.forward(x);
        assert_eq!(h.dims(), [2, 3, 8]);
        assert_eq!(model.output_items().dims(), [7, 8]);
        // A later item must not change an earlier position's state.
        let (flat2, _) = left_pad(&[&[1, 2, 6]], 4);
        let h2 = model.forward(Tensor::<2, Int>::from_data(
            TensorData::new(flat2, [1, 3]),
            &device,
        ));
        let a: Vec<f32> = h.slice(s![0..1, 0..2, ..]).try_into_vec_as().unwrap();
        let b: Vec<f32> = h2.slice(s![0..1, 0..2, ..]).try_into_vec_as().unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{x} vs {y}");
        }
    }
}
