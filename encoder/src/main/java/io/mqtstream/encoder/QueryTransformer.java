package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import java.util.Map;

/** What the encoder needs of a query-transformer block: the first m tokens, and its parameters. */
interface QueryTransformer {
  /**
   * @param features patch features (B, P, Dv)
   * @return visual tokens (B, m, outputDim)
   */
  NDArray forward(ParameterStore ps, NDArray features, int m, boolean training);

  /** Adds the block's parameters under {@code prefix}. */
  void collect(String prefix, Map<String, Parameter> out);

  /** The block as a DJL block, to initialise. */
  ai.djl.nn.Block block();

  /** See {@link MatryoshkaQueryTransformer#positionalScores}; other blocks do not offer it. */
  default NDArray positionalScores(ParameterStore ps, NDManager scope, boolean training) {
    throw new IllegalStateException(
        "only the legacy block with positional keys has image-free attention scores");
  }
}
