package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.Scalars;
import io.mqtstream.nn.Tensors;
import io.mqtstream.world.Clip;
import io.mqtstream.world.SceneObject;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An auxiliary loss of stages 1 and 2: a linear head reads, from the mean of a frame's first m
 * visual tokens, which objects (colour × shape) the frame shows, by binary cross-entropy. Without
 * it the tokens of mqt-tiny v1–v5 keep an object's colour (a linear probe counts objects by colour
 * 99.9 % right from 2 tokens) and lose its shape (56 % by shape, near guessing): nothing but the
 * LM's answers asks for shape, and the LM never learnt to ask. The loss asks for shape in every
 * token budget m, the Matryoshka way; the head is dropped afterwards, as stage 0's.
 *
 * <p>With {@code identityMotion} a second linear map reads, from the difference of two consecutive
 * frames' means, how far each object shown in both moved: a direction question compares an object's
 * place across frames, and a place that is a few pixels off (mqt-tiny v11: 4.9 px rms, as much as
 * an object moves in a frame) does not say which way it went.
 *
 * <p>With {@code identityTokens} one more linear map, shared by the tokens, reads from identity
 * {@code i}'s own token alone (token {@code 1 + i}, or past the summaries: {@link TokenLayout})
 * whether identity {@code i} is shown and where (and, with motion, a second one reads from that
 * token's change between two frames how far it moved): each identity gets a token of its own, in
 * one layout, so the LM can find "the red circle" by attending to one token instead of reading a
 * per-identity code out of a mean (eval {@code --by-objects}: v13 answers position and direction
 * about a lone object always right, about one among others about half the time). Only the slots
 * below m are read, so small m keeps the frame's summary and larger m adds the objects.
 */
final class IdentityHead {
  static final String HEAD_FILE = "identity_head.safetensors";
  static final String OPTIMIZER_FILE = "identity_optimizer.safetensors";
  private static final int IDENTITIES = PatchTargets.SLOTS;
  // per frame: presence of each identity, then each identity's (x, y), 0 where absent; then
  // whether it is shown in this frame and the one before, and its motion since then, 0 where not
  static final int TARGET_WIDTH = IDENTITIES * 6;

  /**
   * Motion targets are the change of place (from -1 to 1 across the frame) times this: one frame of
   * the world's motion (4 to 7 % of the frame) is then 0.6 to 1.1.
   */
  static final float MOTION_SCALE = 8f;

  private final Dense head;
  private final Dense motionHead; // null without identityMotion
  private final Dense slotHead; // null without identityTokens: (presence, x, y) from one token
  private final Dense slotMotionHead; // null without identityTokens or identityMotion
  private final float slotWeight;
  private final AuxiliaryWeights weights;
  private final float weight;
  private final boolean places;
  private final float motionWeight;
  private final int frames;
  private final TokenLayout layout;

  IdentityHead(int tokenDim, NDManager manager, TrainConfig config) {
    Map<String, Parameter> parameters = new LinkedHashMap<>();
    this.weight = config.identityWeight();
    this.places = config.identityPlaces();
    this.head = new Dense(tokenDim, places ? 3 * IDENTITIES : IDENTITIES, true);
    head.initialize(manager, DataType.FLOAT32, new Shape(1, tokenDim));
    head.collect("identity_head", parameters);
    this.motionWeight = config.identityMotion();
    this.frames = config.world().frames();
    this.layout = config.tokenLayout();
    if (motionWeight > 0) {
      this.motionHead = new Dense(tokenDim, 2 * IDENTITIES, true);
      motionHead.initialize(manager, DataType.FLOAT32, new Shape(1, tokenDim));
      motionHead.collect("identity_motion", parameters);
    } else {
      this.motionHead = null;
    }
    this.slotWeight = config.identityTokens();
    if (slotWeight > 0) {
      this.slotHead = new Dense(tokenDim, 3, true);
      slotHead.initialize(manager, DataType.FLOAT32, new Shape(1, tokenDim));
      slotHead.collect("identity_slot", parameters);
    } else {
      this.slotHead = null;
    }
    if (slotWeight > 0 && motionWeight > 0) {
      this.slotMotionHead = new Dense(tokenDim, 2, true);
      slotMotionHead.initialize(manager, DataType.FLOAT32, new Shape(1, tokenDim));
      slotMotionHead.collect("identity_slot_motion", parameters);
    } else {
      this.slotMotionHead = null;
    }
    this.weights = new AuxiliaryWeights(parameters, manager, config, HEAD_FILE, OPTIMIZER_FILE);
  }

  /**
   * Per frame of the clip, {@link #TARGET_WIDTH} values: 1 for each colour × shape it shows
   * (identities are unique per clip), then each identity's centre (x, y) from -1 to 1, 0 where
   * absent; then 1 for each identity shown in this frame and the one before, then its change of
   * place since that frame times {@link #MOTION_SCALE}, 0 where not shown in both.
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
        if (t > 0 && o.visibleAt(t - 1)) {
          int moved = t * TARGET_WIDTH + 3 * IDENTITIES;
          out[moved + slot] = 1;
          out[moved + IDENTITIES + 2 * slot] =
              (float) (MOTION_SCALE * 2 * (o.x(t) - o.x(t - 1)) / size);
          out[moved + IDENTITIES + 2 * slot + 1] =
              (float) (MOTION_SCALE * 2 * (o.y(t) - o.y(t - 1)) / size);
        }
      }
    }
    return out;
  }

  /**
   * The loss stages 1 and 2 add: the identities' and places' errors of {@link #errors} times {@code
   * identityWeight}, plus the motion error times {@code identityMotion}, plus with {@code
   * identityTokens} the slot reads' errors times it where an identity's token is among the first m.
   */
  NDArray loss(ParameterStore ps, NDManager scope, NDArray tokens, float[] targets) {
    NDList e = errors(ps, scope, tokens, targets);
    NDArray loss = Scalars.times(places ? e.get(0).add(e.get(1)) : e.get(0), weight);
    if (motionHead != null) {
      loss = loss.add(Scalars.times(e.get(2), motionWeight));
    }
    if (slotHead != null && layout.identitiesWithin((int) tokens.getShape().get(1)).length > 0) {
      NDArray slots = e.get(3).add(e.get(4));
      if (slotMotionHead != null) {
        slots = slots.add(Scalars.times(e.get(5), motionWeight));
      }
      loss = loss.add(Scalars.times(slots, slotWeight));
    }
    return loss;
  }

  /**
   * The head's errors: the mean binary cross-entropy over frames and identities, in nats; the mean
   * squared error of the shown objects' places (per coordinate; NaN without {@code
   * identityPlaces}); the mean squared error of the motion of the objects shown in two consecutive
   * frames (per coordinate, in {@link #MOTION_SCALE} units; NaN without {@code identityMotion});
   * with {@code identityTokens}, the same three read from each identity's own token ({@link
   * TokenLayout}) among the first m (NaN where no identity's token is among them, or without motion
   * for the third).
   *
   * @param tokens (N, m, D), the frames' first m tokens, clip after clip, frame after frame
   * @param targets N × {@link #TARGET_WIDTH}, from {@link #targets}
   */
  NDList errors(ParameterStore ps, NDManager scope, NDArray tokens, float[] targets) {
    int n = (int) tokens.getShape().get(0);
    NDArray mean = tokens.mean(new int[] {1}); // (N, D)
    NDArray out = head.apply(ps, mean, true); // (N, D) → (N, I or 3I)
    NDArray all = Tensors.create(scope, targets, 0, new Shape(n, TARGET_WIDTH));
    NDArray y = all.get(new NDIndex(":, 0:" + IDENTITIES)); // (N, I)
    NDArray bce = binaryCrossEntropy(out.get(new NDIndex(":, 0:" + IDENTITIES)), y);
    NDArray placeError =
        places
            ? maskedSquaredError(
                out.get(new NDIndex(":, " + IDENTITIES + ":")).reshape(n, IDENTITIES, 2),
                placeTargets(all),
                y)
            : scope.create(Float.NaN);
    NDArray motionError = scope.create(Float.NaN);
    if (motionHead != null) {
      NDArray motion = // (C·(T−1), I, 2), from each frame's mean minus the one before
          motionHead.apply(ps, frameChange(mean), true).reshape(-1, IDENTITIES, 2);
      motionError = motionError(motion, all, null);
    }
    NDList errors = new NDList(bce, placeError, motionError);
    if (slotHead != null) {
      errors.addAll(slotErrors(ps, scope, tokens, all));
    }
    return errors;
  }

  /**
   * The slot reads: presence (binary cross-entropy), place and motion of identity i from its own
   * token ({@link TokenLayout#tokenOf}), for the identities whose token is among the first m.
   *
   * @param tokens (N, m, D)
   * @param all (N, TARGET_WIDTH)
   */
  private NDList slotErrors(ParameterStore ps, NDManager scope, NDArray tokens, NDArray all) {
    int[] shown = layout.identitiesWithin((int) tokens.getShape().get(1)); // s of them
    if (shown.length == 0) {
      return new NDList(scope.create(Float.NaN), scope.create(Float.NaN), scope.create(Float.NaN));
    }
    int[] own = Arrays.stream(shown).map(layout::tokenOf).toArray();
    NDArray slots = take(tokens, own); // (N, s, D)
    NDArray out = slotHead.apply(ps, slots, true); // (N, s, 3)
    NDArray y = take(all.get(new NDIndex(":, 0:" + IDENTITIES)), shown); // (N, s)
    NDArray bce = binaryCrossEntropy(out.get(new NDIndex(":, :, 0")), y);
    NDArray place =
        maskedSquaredError(out.get(new NDIndex(":, :, 1:3")), placeTargets(all, shown), y);
    if (slotMotionHead == null) {
      return new NDList(bce, place, scope.create(Float.NaN));
    }
    NDArray motion = slotMotionHead.apply(ps, frameChange(slots), true); // (C·(T−1), s, 2)
    return new NDList(bce, place, motionError(motion, all, shown));
  }

  /**
   * x's entries at the given indices of axis 1, in that order, as slices of the runs of consecutive
   * indices (one run in the layout of one summary token).
   *
   * @param x (N, K, ...)
   * @return (N, at.length, ...)
   */
  private static NDArray take(NDArray x, int[] at) {
    NDList runs = new NDList();
    for (int start = 0; start < at.length; ) {
      int end = start + 1;
      while (end < at.length && at[end] == at[end - 1] + 1) {
        end++;
      }
      runs.add(x.get(new NDIndex(":, " + at[start] + ":" + (at[end - 1] + 1))));
      start = end;
    }
    return runs.size() == 1 ? runs.singletonOrThrow() : NDArrays.concat(runs, 1);
  }

  /** Mean binary cross-entropy of logits z against 0/1 targets y, in nats. */
  private static NDArray binaryCrossEntropy(NDArray z, NDArray y) {
    // log(1 + e^z) − y·z, computed as max(z, 0) − y·z + log(1 + e^−|z|)
    return Scalars.atLeast(z, 0).sub(y.mul(z)).add(z.abs().neg().exp().add(1f).log()).mean();
  }

  /** The places (x, y) of the given identities, in that order: (N, s, 2), 0 where not shown. */
  private static NDArray placeTargets(NDArray all, int[] identities) {
    return take(placeTargets(all), identities);
  }

  /** The places (x, y) of every identity: (N, I, 2), 0 where not shown. */
  private static NDArray placeTargets(NDArray all) {
    return all.get(new NDIndex(":, " + IDENTITIES + ":" + 3 * IDENTITIES))
        .reshape(-1, IDENTITIES, 2);
  }

  /** Each frame's x minus the frame before's, clip by clip: (N, ...) → (C·(T−1), ...). */
  private NDArray frameChange(NDArray x) {
    long[] dims = x.getShape().getShape();
    long[] perClip = new long[dims.length + 1];
    perClip[0] = dims[0] / frames;
    perClip[1] = frames;
    System.arraycopy(dims, 1, perClip, 2, dims.length - 1);
    NDArray byClip = x.reshape(new Shape(perClip)); // (C, T, ...)
    NDArray change = byClip.get(new NDIndex(":, 1:")).sub(byClip.get(new NDIndex(":, :-1")));
    long[] out = dims.clone();
    out[0] = perClip[0] * (frames - 1);
    return change.reshape(new Shape(out));
  }

  /**
   * The motion error of the given identities (null: all of them) over the objects shown in a frame
   * and the one before.
   *
   * @param motion (C·(T−1), s, 2), as read from {@link #frameChange}, s = identities.length (or I)
   * @param all (N, TARGET_WIDTH)
   */
  private NDArray motionError(NDArray motion, NDArray all, int[] identities) {
    NDArray later = all.reshape(-1, frames, TARGET_WIDTH).get(new NDIndex(":, 1:"));
    NDArray both = // (C·(T−1), I): shown in the frame and the one before
        later
            .get(new NDIndex(":, :, " + 3 * IDENTITIES + ":" + 4 * IDENTITIES))
            .reshape(-1, IDENTITIES);
    NDArray moved = // (C·(T−1), I, 2)
        later.get(new NDIndex(":, :, " + 4 * IDENTITIES + ":")).reshape(-1, IDENTITIES, 2);
    if (identities != null) { // (C·(T−1), s) and (C·(T−1), s, 2)
      both = take(both, identities);
      moved = take(moved, identities);
    }
    return maskedSquaredError(motion, moved, both);
  }

  /**
   * Mean squared error per coordinate over the identities {@code shown} marks.
   *
   * @param predicted (K, I, 2)
   * @param truth (K, I, 2)
   * @param shown (K, I), 1 or 0
   */
  private static NDArray maskedSquaredError(NDArray predicted, NDArray truth, NDArray shown) {
    NDArray squared = predicted.sub(truth).square().mul(shown.expandDims(2)).sum();
    return squared.div(
        Scalars.times(Scalars.atLeast(shown.sum(), 1), 2)); // no copy to the host: one per step
  }

  /** The head's weights and optimizer, which the trainer updates, saves and resumes. */
  AuxiliaryWeights weights() {
    return weights;
  }
}
