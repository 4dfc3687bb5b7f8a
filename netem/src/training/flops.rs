//! Parameters and FLOPs of the transformer, per token (Kaplan et al.,
//! "Scaling laws for neural language models", 2020, Table 1, with
//! d_attn = hidden): a layer's attention has 4·hidden² parameters and
//! costs 2·4·hidden² + 2·seq_len·hidden forward; its MLP has 2·hidden·ffn
//! per expert and costs 2·2·hidden·ffn per expert a token visits, plus
//! 2·hidden·experts for the router; the output projection (de-embedding)
//! costs 2·vocab·hidden. Backward costs twice forward, so a token's step
//! costs three times its forward.

use super::Model;

impl Model {
    /// Experts a token visits (1 without experts).
    pub(crate) fn active_experts(&self) -> f64 {
        if self.experts.is_some() {
            f64::from(self.top_k.unwrap_or(1))
        } else {
            1.0
        }
    }

    /// Experts per layer (1 without experts).
    pub(crate) fn expert_count(&self) -> f64 {
        f64::from(self.experts.unwrap_or(1))
    }

    /// Attention parameters of a layer: Q, K, V and output, 4·hidden².
    pub fn attention_params(&self) -> f64 {
        4.0 * (self.hidden as f64).powi(2)
    }

    /// Parameters of one expert's (or the dense) MLP: 2·hidden·ffn.
    pub fn expert_params(&self) -> f64 {
        2.0 * self.hidden as f64 * self.ffn as f64
    }

    /// The router's parameters: hidden·experts (none without experts).
    pub fn router_params(&self) -> f64 {
        self.experts
            .map_or(0.0, |e| self.hidden as f64 * f64::from(e))
    }

    /// Parameters of one layer, every expert counted.
    pub fn layer_params(&self) -> f64 {
        self.attention_params() + self.expert_count() * self.expert_params() + self.router_params()
    }

    /// Input embedding or output projection: vocab·hidden each (untied).
    pub fn embedding_params(&self) -> f64 {
        self.vocab as f64 * self.hidden as f64
    }

    /// Every parameter of the model.
    pub fn params(&self) -> f64 {
        f64::from(self.layers) * self.layer_params() + 2.0 * self.embedding_params()
    }

    /// Forward FLOPs per token of a layer's attention, scores included.
    pub(crate) fn attention_forward_flops(&self) -> f64 {
        2.0 * self.attention_params() + 2.0 * self.seq_len as f64 * self.hidden as f64
    }

    /// Forward FLOPs per token of a layer's MLP (its experts and router).
    pub(crate) fn mlp_forward_flops(&self) -> f64 {
        2.0 * (self.active_experts() * self.expert_params() + self.router_params())
    }

    /// Forward FLOPs per token of the output projection.
    pub(crate) fn head_forward_flops(&self) -> f64 {
        2.0 * self.embedding_params()
    }

    /// Forward FLOPs per token of the whole model.
    pub fn forward_flops_per_token(&self) -> f64 {
        f64::from(self.layers) * (self.attention_forward_flops() + self.mlp_forward_flops())
            + self.head_forward_flops()
    }

    /// Forward and backward FLOPs per token: three times forward.
    pub fn training_flops_per_token(&self) -> f64 {
        3.0 * self.forward_flops_per_token()
    }
}

#[cfg(test)]
mod tests {
    use crate::training::Model;
    use crate::workload::DType;

    fn gpt3() -> Model {
        // GPT-3 175B (Brown et al. 2020, Table 2.1).
        Model {
            layers: 96,
            hidden: 12_288,
            heads: 96,
            ffn: 4 * 12_288,
            seq_len: 2048,
            vocab: 50_257,
            dtype: DType::Bf16,
            experts: None,
            top_k: None,
        }
    }

    #[test]
    fn gpt3_has_175_billion_parameters_and_six_flops_per_parameter_token() {
        let m = gpt3();
        // 12·layers·hidden² = 173.9 B in the layers, 1.2 B in the two embeddings.
        assert!((m.params() / 1e9 - 175.2).abs() < 0.1, "{}", m.params());
        let n = f64::from(m.layers) * m.layer_params() + m.embedding_params();
        let attention = 6.0 * 96.0 * 2048.0 * 12_288.0;
        let expect = 6.0 * n + attention;
        assert!((m.training_flops_per_token() - expect).abs() / expect < 1e-12);
    }

    #[test]
    fn experts_add_parameters_but_a_token_pays_only_for_top_k() {
        let dense = gpt3();
        let moe = Model {
            experts: Some(8),
            top_k: Some(2),
            ..gpt3()
        };
        let mlp = dense.expert_params();
        assert!(
            (moe.layer_params() - dense.layer_params() - 7.0 * mlp - 8.0 * 12_288.0).abs() < 1.0
        );
        let extra = 2.0 * (mlp + moe.router_params());
        assert!((moe.mlp_forward_flops() - dense.mlp_forward_flops() - extra).abs() < 1.0);
    }
}
