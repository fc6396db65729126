package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
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
  // per frame: presence of each identity, then each identity's (x, y), 0 where absent
  static final int TARGET_WIDTH = IDENTITIES * 3;

  private final Dense head;
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  private final AdamW optimizer;
  private final float weight;
  private final boolean places;

  IdentityHead(int tokenDim, NDManager manager, TrainConfig config) {
    this.weight = config.identityWeight();
    this.places = config.identityPlaces();
    this.head = new Dense(tokenDim, places ? TARGET_WIDTH : IDENTITIES, true);
    head.initialize(manager, DataType.FLOAT32, new Shape(1, tokenDim));
    head.collect("identity_head", parameters);
    parameters.values().forEach(p -> p.getArray().setRequiresGradient(true));
    this.optimizer = new AdamW(parameters, manager, 0.9f, 0.98f, 1e-8f, config.weightDecay());
  }

  /**
   * Per frame of the clip, {@link #TARGET_WIDTH} values: 1 for each colour × shape it shows
   * (identities are unique per clip), then each identity's centre (x, y) from -1 to 1, 0 where
   * absent.
   */
  static float[] targets(Clip clip) {
    float[] out = new float[clip.frames() * TARGET_WIDTH];
    int size = clip.imageSize();
    for (int t = 0; t < clip.frames(); t++) {
      for (SceneObject o : clip.visibleAt(t)) {
        int slot = PatchTargets.slot(o.colour(), o.shape());
        out[t * TARGET_WIDTH + slot] = 1;
        out[t * TARGET_WIDTH + IDENTITIES + 2 * slot] = (float) (2 * o.x(t) / size - 1);
        out[t * TARGET_WIDTH + IDENTITIES + 2 * slot + 1] = (float) (2 * o.y(t) / size - 1);
      }
    }
    return out;
  }

  /** The loss stages 1 and 2 add: the sum of {@link #errors} times {@code identityWeight}. */
  NDArray loss(ParameterStore ps, NDManager scope, NDArray tokens, float[] targets) {
    NDList e = errors(ps, scope, tokens, targets);
    return (places ? e.get(0).add(e.get(1)) : e.get(0)).mul(weight);
  }

  /**
   * The head's errors: the mean binary cross-entropy over frames and identities, in nats, and with
   * {@code identityPlaces} the mean squared error of the shown objects' places (per coordinate).
   *
   * @param tokens (N, m, D), the frames' first m tokens
   * @param targets N × {@link #TARGET_WIDTH}, from {@link #targets}
   */
  NDList errors(ParameterStore ps, NDManager scope, NDArray tokens, float[] targets) {
    int n = (int) tokens.getShape().get(0);
    NDArray out = head.apply(ps, tokens.mean(new int[] {1}), true); // (N, D) → (N, I or 3I)
    NDArray all = Tensors.create(scope, targets, 0, new Shape(n, TARGET_WIDTH));
    NDArray y = all.get(new NDIndex(":, 0:" + IDENTITIES)); // (N, I)
    NDArray z = out.get(new NDIndex(":, 0:" + IDENTITIES)); // (N, I)
    // log(1 + e^z) − y·z, computed as max(z, 0) − y·z + log(1 + e^−|z|)
    NDArray bce = z.maximum(0f).sub(y.mul(z)).add(z.abs().neg().exp().add(1f).log()).mean();
    if (!places) {
      return new NDList(bce);
    }
    NDArray place = out.get(new NDIndex(":, " + IDENTITIES + ":")).reshape(n, IDENTITIES, 2);
    NDArray truth = all.get(new NDIndex(":, " + IDENTITIES + ":")).reshape(n, IDENTITIES, 2);
    float shown = Math.max(1, y.sum().getFloat());
    NDArray squared = place.sub(truth).square().mul(y.reshape(n, IDENTITIES, 1)).sum();
    return new NDList(bce, squared.div(2 * shown));
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
