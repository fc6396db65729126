package io.mqtstream.encoder;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class FlopsTest {

  @Test
  void mqtCostIsSharedKeysValuesPlusALinearTermInM() {
    // P=4, Dv=2, D=4, out=8: keys/values 2·4·2·4 + 2·2·4·4·4 = 64 + 256 = 320;
    // per query 2·16 + 2·2·4·4 + 2·16 + 2·4·8 = 32 + 64 + 32 + 64 = 192
    MqtConfig c = new MqtConfig(4, 4, 2, 2, 4, 8, MqtConfig.KeyMode.POSITIONAL, false);
    assertThat(Flops.mqt(c, 1)).isEqualTo(320 + 192);
    assertThat(Flops.mqt(c, 4)).isEqualTo(320 + 4 * 192);
  }

  @Test
  void llmPrefillCountsEveryVisualAndTextToken() {
    // 1 layer, d=2, ffn=4, vocab=10, plain MLP; n = 2·3 + 1 + 1 = 8 tokens:
    // 2·8·2·8 + 4·64·2 + 2·2·8·2·4 + 2·2·10 = 256 + 512 + 256 + 40 = 1064
    Flops.LlmShape llm = new Flops.LlmShape(1, 2, 4, 10, false);
    assertThat(Flops.llmPrefill(llm, 3, 2, 1)).isEqualTo(1064);
  }

  @Test
  void sixteenTokensCostTheLlmAboutAnEighthOfLlavasFiveHundredSeventySix() {
    // The paper's headline: Vicuna-7B (32 layers, 4096 wide, SwiGLU 11008, 32000 words).
    Flops.LlmShape vicuna = new Flops.LlmShape(32, 4096, 11008, 32000, true);
    double ratio =
        (double) Flops.llmPrefill(vicuna, 576, 1, 64) / Flops.llmPrefill(vicuna, 16, 1, 64);
    assertThat(ratio).isBetween(7.0, 9.5);
  }

  @Test
  void theConvStemCountsEachConvolutionInPlaceOfThePatchEmbedding() {
    // 8×8 image, patch 4, d = 8: convolutions 3→4 (out 4×4) and 4→8 (out 2×2), 3×3 kernels:
    // 2·16·4·3·9 + 2·4·8·4·9 = 3456 + 2304 = 5760; the linear embedding: 2·4·48·8 = 3072
    VitConfig linear = new VitConfig(8, 4, 8, 1, 2, 1);
    VitConfig conv = new VitConfig(8, 4, 8, 1, 2, 1, VitConfig.Stem.CONV);
    assertThat(Flops.backbone(conv) - Flops.backbone(linear)).isEqualTo(5760 - 3072);
  }
}
