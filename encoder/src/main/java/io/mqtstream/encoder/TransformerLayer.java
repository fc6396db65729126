package io.mqtstream.encoder;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import io.mqtstream.nn.Attention;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.ModelBlock;
import io.mqtstream.nn.Norm;
import java.util.Map;

/** A pre-LN transformer encoder layer: self-attention then a GELU MLP, each with a residual. */
final class TransformerLayer extends ModelBlock {
  private final int heads;
  private final Norm ln1;
  private final Dense qkv;
  private final Dense attnOut;
  private final Norm ln2;
  private final Dense fc1;
  private final Dense fc2;

  TransformerLayer(int dim, int heads, int mlpRatio) {
    this.heads = heads;
    ln1 = addChildBlock("ln1", new Norm(dim));
    qkv = addChildBlock("qkv", new Dense(dim, 3 * dim, true));
    attnOut = addChildBlock("attnOut", new Dense(dim, dim, true));
    ln2 = addChildBlock("ln2", new Norm(dim));
    fc1 = addChildBlock("fc1", new Dense(dim, mlpRatio * dim, true));
    fc2 = addChildBlock("fc2", new Dense(mlpRatio * dim, dim, true));
  }

  /** (B, N, D) → (B, N, D). */
  NDArray apply(ParameterStore ps, NDArray x, boolean training) {
    NDList qkvParts =
        qkv.apply(ps, ln1.apply(ps, x, training), training).split(3, 2); // 3 × (B, N, D)
    NDArray attended =
        Attention.multiHead(qkvParts.get(0), qkvParts.get(1), qkvParts.get(2), heads, null);
    x = x.add(attnOut.apply(ps, attended, training)); // (B, N, D)
    NDArray hidden =
        Activation.gelu(fc1.apply(ps, ln2.apply(ps, x, training), training)); // (B, N, rD)
    return x.add(fc2.apply(ps, hidden, training)); // (B, N, D)
  }

  @Override
  public void collect(String prefix, Map<String, Parameter> out) {
    ln1.collect(prefix + ".ln1", out);
    qkv.collect(prefix + ".attn.qkv", out);
    attnOut.collect(prefix + ".attn.out", out);
    ln2.collect(prefix + ".ln2", out);
    fc1.collect(prefix + ".mlp.fc1", out);
    fc2.collect(prefix + ".mlp.fc2", out);
  }

  @Override
  protected NDList forwardInternal(
      ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
    return new NDList(apply(ps, inputs.singletonOrThrow(), training));
  }

  @Override
  public Shape[] getOutputShapes(Shape[] inputShapes) {
    return inputShapes;
  }
}
