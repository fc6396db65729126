package io.mqtstream.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import io.mqtstream.nn.Checkpoints;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Adam with decoupled weight decay (Loshchilov and Hutter), with its moments kept by parameter name
 * so they can be saved and a run resumed exactly. Updates run outside gradient recording.
 */
final class AdamW {
  private final Map<String, Parameter> parameters;
  private final Map<String, NDArray> first = new LinkedHashMap<>();
  private final Map<String, NDArray> second = new LinkedHashMap<>();
  private final float beta1;
  private final float beta2;
  private final float eps;
  private final float weightDecay;
  private final Map<String, Float> rateScale = new LinkedHashMap<>();

  AdamW(
      Map<String, Parameter> parameters,
      NDManager manager,
      float beta1,
      float beta2,
      float eps,
      float weightDecay) {
    this.parameters = parameters;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    parameters.forEach(
        (name, p) -> {
          first.put(name, manager.zeros(p.getArray().getShape()));
          second.put(name, manager.zeros(p.getArray().getShape()));
        });
  }

  /**
   * Updates the parameter {@code name} at {@code scale} times the learning rate from now on (its
   * weight decay too, as the decay is scaled by the rate): a map added at zero to a model being
   * fine-tuned at a low rate can then move as far as one trained from the start.
   */
  void scaleRate(String name, float scale) {
    if (!parameters.containsKey(name)) {
      throw new IllegalArgumentException("no parameter " + name + " to scale the rate of");
    }
    rateScale.put(name, scale);
  }

  /**
   * One update with the given gradients (already clipped); parameters without one are left as they
   * are. Every temporary goes to {@code scratch}, which the caller closes; the moments and weights
   * change in place.
   *
   * @param step 1-based step number, for the bias correction
   */
  void update(Map<String, NDArray> gradients, float learningRate, int step, NDManager scratch) {
    float c1 = 1f - (float) Math.pow(beta1, step);
    float c2 = 1f - (float) Math.pow(beta2, step);
    for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
      NDArray g = gradients.get(e.getKey());
      if (g == null) {
        continue; // not trained this stage (a frozen backbone): weight and moments stay
      }
      NDArray w = e.getValue().getArray();
      NDArray m = first.get(e.getKey());
      NDArray v = second.get(e.getKey());
      m.muli(beta1).addi(local(scratch, g.mul(1f - beta1)));
      v.muli(beta2).addi(local(scratch, g.square()).muli(1f - beta2));
      NDArray denominator = local(scratch, local(scratch, v.div(c2)).sqrt()).addi(eps);
      NDArray delta = local(scratch, m.div(c1)).divi(denominator);
      if (decays(e.getKey())) {
        delta.addi(local(scratch, w.mul(weightDecay)));
      }
      w.subi(delta.muli(learningRate * rateScale.getOrDefault(e.getKey(), 1f)));
    }
  }

  /** Ops on the model's arrays land in the model's manager: move their results to scratch. */
  static NDArray local(NDManager scratch, NDArray a) {
    a.attach(scratch);
    return a;
  }

  /** No decay on norms, biases, embeddings of positions and the latent queries' scale. */
  private static boolean decays(String name) {
    return name.endsWith(".weight") && !name.contains("norm") && !name.contains(".ln");
  }

  void save(Path file, NDManager manager) throws IOException {
    Checkpoints.saveArrays(file, state(), manager);
  }

  void load(Path file, NDManager manager) throws IOException {
    Checkpoints.loadArrays(file, state(), manager);
  }

  private Map<String, NDArray> state() {
    Map<String, NDArray> all = new LinkedHashMap<>();
    first.forEach((k, v) -> all.put("adam.m." + k, v));
    second.forEach((k, v) -> all.put("adam.v." + k, v));
    return all;
  }
}
