package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Checkpoints;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.Tensors;
import io.mqtstream.world.Clip;
import io.mqtstream.world.SceneObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An auxiliary loss of stages 1 and 2: a linear head reads, from the mean of a frame's first m
 * visual tokens, which objects (colour × shape) the frame shows, by binary cross-entropy. Without
 * it the tokens of mqt-tiny v1–v5 keep an object's colour (a linear probe counts objects by colour
 * 99.9 % right from 2 tokens) and lose its shape (56 % by shape, near guessing): nothing but the
 * LM's answers asks for shape, and the LM never learnt to ask. The loss asks for shape in every
 * token budget m, the Matryoshka way; the head is dropped afterwards, as stage 0's.
 */
final class IdentityHead {
  static final String HEAD_FILE = "identity_head.safetensors";
  static final String OPTIMIZER_FILE = "identity_optimizer.safetensors";
  private static final int IDENTITIES = PatchTargets.SLOTS;

  private final Dense head;
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  private final AdamW optimizer;
  private final float weight;

  IdentityHead(int tokenDim, NDManager manager, TrainConfig config) {
    this.weight = config.identityWeight();
    this.head = new Dense(tokenDim, IDENTITIES, true);
    head.initialize(manager, DataType.FLOAT32, new Shape(1, tokenDim));
    head.collect("identity_head", parameters);
    parameters.values().forEach(p -> p.getArray().setRequiresGradient(true));
    this.optimizer = new AdamW(parameters, manager, 0.9f, 0.98f, 1e-8f, config.weightDecay());
  }

  /** Per frame of the clip, 1 for each colour × shape it shows (identities are unique per clip). */
  static float[] targets(Clip clip) {
    float[] out = new float[clip.frames() * IDENTITIES];
    for (int t = 0; t < clip.frames(); t++) {
      for (SceneObject o : clip.visibleAt(t)) {
        out[t * IDENTITIES + PatchTargets.slot(o.colour(), o.shape())] = 1;
      }
    }
    return out;
  }

  /** The loss stages 1 and 2 add: {@link #bce} times {@code identityWeight}. */
  NDArray loss(ParameterStore ps, NDManager scope, NDArray tokens, float[] targets) {
    return bce(ps, scope, tokens, targets).mul(weight);
  }

  /**
   * Mean binary cross-entropy over frames and identities, in nats.
   *
   * @param tokens (N, m, D), the frames' first m tokens
   * @param targets N × {@link #IDENTITIES}, from {@link #targets}
   */
  NDArray bce(ParameterStore ps, NDManager scope, NDArray tokens, float[] targets) {
    int n = (int) tokens.getShape().get(0);
    NDArray z = head.apply(ps, tokens.mean(new int[] {1}), true); // (N, D) → (N, I)
    NDArray y = Tensors.create(scope, targets, 0, new Shape(n, IDENTITIES));
    // log(1 + e^z) − y·z, computed as max(z, 0) − y·z + log(1 + e^−|z|)
    NDArray bce = z.maximum(0f).sub(y.mul(z)).add(z.abs().neg().exp().add(1f).log());
    return bce.mean();
  }

  Map<String, Parameter> parameters() {
    return parameters;
  }

  AdamW optimizer() {
    return optimizer;
  }

  void save(Path checkpoint, NDManager manager) throws IOException {
    Checkpoints.save(checkpoint.resolve(HEAD_FILE), parameters, manager);
    optimizer.save(checkpoint.resolve(OPTIMIZER_FILE), manager);
  }

  /**
   * The head of {@code checkpoint}, when it has one; a checkpoint written without the loss (e.g.
   * the end of stage 0) leaves the head as it starts.
   */
  boolean load(Path checkpoint, NDManager manager) throws IOException {
    if (!Files.exists(checkpoint.resolve(HEAD_FILE))) {
      return false;
    }
    Checkpoints.load(checkpoint.resolve(HEAD_FILE), parameters, manager);
    optimizer.load(checkpoint.resolve(OPTIMIZER_FILE), manager);
    return true;
  }
}
