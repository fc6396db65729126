package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import io.mqtstream.encoder.VisionBackbone;
import io.mqtstream.nn.Checkpoints;
import io.mqtstream.nn.Dense;
import io.mqtstream.nn.Scalars;
import io.mqtstream.nn.Tensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stage 0: the vision backbone alone learns what lies in each patch ({@link PatchTargets}: colour
 * and shape of the object covering it, whether an object's centre lies in it and where), through a
 * linear head that is dropped afterwards. It plays the part CLIP's pre-training plays for the
 * reference model: the MQT and the LM start from features that already separate objects. It has its
 * own AdamW and schedule, so stages 1 and 2 run exactly as they would without it.
 */
final class VisionStage {
  static final String HEAD_FILE = "vision_head.safetensors";
  static final String OPTIMIZER_FILE = "vision_optimizer.safetensors";
  private static final int OUTPUTS = PatchTargets.COLOURS + PatchTargets.SHAPES + 2 + 2;
  private static final int SLOT_OUTPUTS = PatchTargets.SLOTS * PatchTargets.SLOT_WIDTH;

  private final VisionBackbone backbone;
  private final Dense head;
  private final boolean objectSlots;
  private final Map<String, Parameter> parameters = new LinkedHashMap<>();
  private final Map<String, Parameter> headParameters = new LinkedHashMap<>();
  private final AdamW optimizer;
  private final LearningRate schedule;

  VisionStage(
      VisionBackbone backbone,
      Map<String, Parameter> backboneParameters,
      NDManager manager,
      TrainConfig config) {
    this.backbone = backbone;
    this.objectSlots = config.objectSlots();
    this.head = new Dense(backbone.featureDim(), OUTPUTS + (objectSlots ? SLOT_OUTPUTS : 0), true);
    head.initialize(manager, DataType.FLOAT32, new Shape(1, backbone.featureDim()));
    if (objectSlots) {
      // the slots start at zero, the right value for all but the centres' patches: random slot
      // outputs would start the loss at tens and, through the gradient clip, stall the labels
      head.weight.getArray().set(new NDIndex(OUTPUTS + ":"), 0f);
      head.bias.getArray().set(new NDIndex(OUTPUTS + ":"), 0f);
    }
    head.collect("vision_head", headParameters);
    headParameters.values().forEach(p -> p.getArray().setRequiresGradient(true));
    parameters.putAll(backboneParameters);
    parameters.putAll(headParameters);
    this.optimizer = new AdamW(parameters, manager, 0.9f, 0.98f, 1e-8f, config.weightDecay());
    this.schedule =
        new LearningRate(
            config.learningRate(),
            Math.min(config.warmupSteps(), config.visionSteps() / 4),
            config.visionSteps(),
            0.1f);
  }

  Map<String, Parameter> parameters() {
    return parameters;
  }

  AdamW optimizer() {
    return optimizer;
  }

  float learningRate(int step) {
    return schedule.at(step);
  }

  /**
   * The stage's loss on a batch of frames: cross-entropy of each patch's colour and shape, of
   * whether a centre lies in it, and the squared error of the centre's place where one does; with
   * {@code objectSlots}, also the squared error of every object slot ({@link
   * PatchTargets#slots()}), summed over patches and slots and divided by the number of centres like
   * the place's; the accuracy is the share of object-covered patches whose colour and shape are
   * both named right (most patches are background, so the share of all patches would say little).
   *
   * @param images (N, 3, H, W)
   * @param targets one per image
   */
  Trainer.Forward losses(
      ParameterStore ps, NDManager scope, NDArray images, List<PatchTargets> targets) {
    int n = targets.size();
    int p = backbone.patches();
    NDArray out = head.apply(ps, backbone.features(ps, images, true), true); // (N, P, OUTPUTS)
    int c = PatchTargets.COLOURS;
    int s = PatchTargets.SHAPES;
    NDArray colourLogits = out.get(new NDIndex(":, :, 0:" + c)); // (N, P, C)
    NDArray shapeLogits = out.get(new NDIndex(":, :, " + c + ":" + (c + s))); // (N, P, S)
    NDArray centreLogits = out.get(new NDIndex(":, :, " + (c + s) + ":" + (c + s + 2))); // (N,P,2)
    NDArray offsets = out.get(new NDIndex(":, :, " + (c + s + 2) + ":" + OUTPUTS)); // (N, P, 2)
    float[] colourHot = new float[n * p * c];
    float[] shapeHot = new float[n * p * s];
    float[] centreHot = new float[n * p * 2];
    float[] centreMask = new float[n * p];
    float[] offsetTarget = new float[n * p * 2];
    int centres = 0;
    for (int i = 0; i < n; i++) {
      PatchTargets t = targets.get(i);
      for (int j = 0; j < p; j++) {
        int k = i * p + j;
        colourHot[k * c + t.colour()[j]] = 1;
        shapeHot[k * s + t.shape()[j]] = 1;
        centreHot[k * 2 + t.centre()[j]] = 1;
        centreMask[k] = t.centre()[j];
        offsetTarget[2 * k] = t.offset()[2 * j];
        offsetTarget[2 * k + 1] = t.offset()[2 * j + 1];
        centres += t.centre()[j];
      }
    }
    float cells = n * p;
    NDArray loss =
        crossEntropy(colourLogits, Tensors.create(scope, colourHot, 0, new Shape(n, p, c)), cells)
            .add(
                crossEntropy(
                    shapeLogits, Tensors.create(scope, shapeHot, 0, new Shape(n, p, s)), cells))
            .add(
                crossEntropy(
                    centreLogits, Tensors.create(scope, centreHot, 0, new Shape(n, p, 2)), cells))
            .add(
                Scalars.over(
                    offsets
                        .sub(Tensors.create(scope, offsetTarget, 0, new Shape(n, p, 2)))
                        .square()
                        .mul(Tensors.create(scope, centreMask, 0, new Shape(n, p, 1)))
                        .sum(),
                    Math.max(1, 2 * centres)));
    if (objectSlots) {
      float[] slotTarget = new float[n * p * SLOT_OUTPUTS];
      for (int i = 0; i < n; i++) {
        System.arraycopy(
            targets.get(i).slots(), 0, slotTarget, i * p * SLOT_OUTPUTS, p * SLOT_OUTPUTS);
      }
      NDArray slots = out.get(new NDIndex(":, :, " + OUTPUTS + ":")); // (N, P, SLOTS × 3)
      NDArray error =
          slots
              .sub(Tensors.create(scope, slotTarget, 0, new Shape(n, p, SLOT_OUTPUTS)))
              .square()
              .sum(new int[] {2}); // (N, P)
      NDArray atCentres = Tensors.create(scope, centreMask, 0, new Shape(n, p)); // (N, P)
      // the centres' patches weigh per centre, as the place's error; the others (all zero) per
      // patch,
      // as the labels: otherwise the many zero patches drown the few that say where objects are
      loss =
          loss.add(Scalars.over(error.mul(atCentres).sum(), Math.max(1, centres)))
              .add(Scalars.over(error.mul(atCentres.neg().add(1)).sum(), cells));
    }
    long[] colourBest = colourLogits.argMax(2).toLongArray();
    long[] shapeBest = shapeLogits.argMax(2).toLongArray();
    int right = 0;
    int covered = 0;
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < p; j++) {
        int k = i * p + j;
        if (targets.get(i).colour()[j] != 0) {
          covered++;
          right +=
              colourBest[k] == targets.get(i).colour()[j]
                      && shapeBest[k] == targets.get(i).shape()[j]
                  ? 1
                  : 0;
        }
      }
    }
    return new Trainer.Forward(loss, (float) right / Math.max(1, covered));
  }

  private static NDArray crossEntropy(NDArray logits, NDArray oneHot, float count) {
    return Scalars.over(logits.logSoftmax(2).mul(oneHot).sum().neg(), count);
  }

  /** Writes the head and this stage's optimizer state (only needed to resume inside stage 0). */
  void save(Path checkpoint, NDManager manager) throws IOException {
    Checkpoints.save(checkpoint.resolve(HEAD_FILE), headParameters, manager);
    optimizer.save(checkpoint.resolve(OPTIMIZER_FILE), manager);
  }

  void load(Path checkpoint, NDManager manager) throws IOException {
    Checkpoints.load(checkpoint.resolve(HEAD_FILE), headParameters, manager);
    optimizer.load(checkpoint.resolve(OPTIMIZER_FILE), manager);
  }
}
