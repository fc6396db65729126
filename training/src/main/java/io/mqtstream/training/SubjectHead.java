package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
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
import io.mqtstream.world.Question;
import io.mqtstream.world.SceneObject;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An auxiliary loss of stage 2 on the LM's side: at each turn whose question is about one object
 * ({@link Question#subject()}), a linear head reads from the LM's final hidden state, at the
 * position that predicts the answer, where that object is in every frame of the clip (x, y from -1
 * to 1; frames where it is hidden are not scored), by squared error. {@code eval --by-objects} put
 * v13's limit there: about an object alone in its frame it answers position and direction always
 * right, about one among others about half the time, so it answers without having found the named
 * object. A one-word answer says little about where to look; this read asks, at every such turn,
 * for what the LM has to find: the named object's place in each frame, which answers position and,
 * by its change, direction. The head is dropped afterwards, as the identity head. Measured on the
 * identity-tokens model against a control (model card, 800 steps): it did not teach the LM to find
 * the object, and cost accuracy.
 *
 * <p>The same read can be asked of the output of the LM's first layer at the question's object name
 * ({@link Reads#NAME}, {@code nameSubject}): there the name loss ({@link NameAttention}) has head h
 * look at the object's token in frame T − 1 − h, so the read asks that what the heads gather keeps
 * each frame's place apart, and with it the change between frames that says which way the object
 * went.
 */
final class SubjectHead {
  /** Where the head reads, with its weights' name and files. */
  enum Reads {
    /** The LM's final hidden state where it answers ({@code subjectWeight}). */
    ANSWER("subject_head", "subject_head.safetensors", "subject_optimizer.safetensors"),
    /**
     * The output of the LM's first layer at the question's object name ({@code nameSubject}); its
     * weights start at zero, so its first steps move the head, not the LM.
     */
    NAME(
        "name_subject_head", "name_subject_head.safetensors", "name_subject_optimizer.safetensors");

    final String name;
    final String headFile;
    final String optimizerFile;

    Reads(String name, String headFile, String optimizerFile) {
      this.name = name;
      this.headFile = headFile;
      this.optimizerFile = optimizerFile;
    }
  }

  private final Dense head; // (D) → per frame (x, y)
  private final AuxiliaryWeights weights;
  private final float weight;
  private final int frames;

  SubjectHead(int lmDim, NDManager manager, TrainConfig config, Reads reads) {
    this.weight = reads == Reads.ANSWER ? config.subjectWeight() : config.nameSubject();
    this.frames = config.world().frames();
    this.head = new Dense(lmDim, 2 * frames, true);
    head.initialize(manager, DataType.FLOAT32, new Shape(1, lmDim));
    if (reads == Reads.NAME) { // from zero: a fresh read sends the LM nothing until it reads
      head.weight.getArray().subi(head.weight.getArray());
    }
    Map<String, Parameter> parameters = new LinkedHashMap<>();
    head.collect(reads.name, parameters);
    this.weights =
        new AuxiliaryWeights(parameters, manager, config, reads.headFile, reads.optimizerFile);
  }

  /**
   * Per frame of the clip: 1 where the question's subject is shown, then its centre (x, y) from -1
   * to 1 (0 where hidden); null when the question has no subject.
   */
  static float[] targets(Clip clip, Question q) {
    SceneObject o = q.subject();
    if (o == null) {
      return null;
    }
    float[] out = new float[3 * clip.frames()];
    int size = clip.imageSize();
    for (int t = 0; t < clip.frames(); t++) {
      if (o.visibleAt(t)) {
        out[3 * t] = 1;
        out[3 * t + 1] = (float) (2 * o.x(t) / size - 1);
        out[3 * t + 2] = (float) (2 * o.y(t) / size - 1);
      }
    }
    return out;
  }

  /** {@link #error} times its weight ({@code subjectWeight} or {@code nameSubject}). */
  NDArray loss(ParameterStore ps, NDManager scope, NDArray hidden, long[] at, float[] targets) {
    return Scalars.times(error(ps, scope, hidden, at, targets), weight);
  }

  /**
   * The mean squared error (per coordinate) of the subjects' places read from the hidden states,
   * over the frames each subject is shown in.
   *
   * @param hidden (R, L, D) the LM's hidden states it reads (final, or its first layer's output)
   * @param at per turn with a subject, row × L + the position it reads at (where the answer is
   *     predicted, or the object's name)
   * @param targets per such turn, {@link #targets} one after another (K × 3T)
   */
  NDArray error(ParameterStore ps, NDManager scope, NDArray hidden, long[] at, float[] targets) {
    long d = hidden.getShape().get(2);
    NDArray states = // (K, D)
        hidden.reshape(-1, d).get(new NDIndex("{}", scope.create(at)));
    NDArray places = head.apply(ps, states, true).reshape(at.length, frames, 2); // (K, T, 2)
    NDArray all = Tensors.create(scope, targets, 0, new Shape(at.length, frames, 3));
    NDArray shown = all.get(new NDIndex(":, :, 0")); // (K, T)
    NDArray squared =
        places.sub(all.get(new NDIndex(":, :, 1:3"))).square().mul(shown.expandDims(2)).sum();
    return squared.div(Scalars.times(Scalars.atLeast(shown.sum(), 1), 2));
  }

  /** The head's weights and optimizer, which the trainer updates, saves and resumes. */
  AuxiliaryWeights weights() {
    return weights;
  }
}
