package io.mqtstream.training;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import io.mqtstream.nn.Checkpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * An auxiliary head's weights and their own AdamW, kept beside a checkpoint in two files so that a
 * resumed run goes on with them; a run started from a model, or from a checkpoint written without
 * the head, starts them fresh. The heads are dropped when the model is shipped.
 */
final class AuxiliaryWeights {
  private final Map<String, Parameter> parameters;
  private final AdamW optimizer;
  private final String headFile;
  private final String optimizerFile;

  /** Makes {@code parameters} trainable, with an AdamW of the run's weight decay. */
  AuxiliaryWeights(
      Map<String, Parameter> parameters,
      NDManager manager,
      TrainConfig config,
      String headFile,
      String optimizerFile) {
    this.parameters = parameters;
    parameters.values().forEach(p -> p.getArray().setRequiresGradient(true));
    this.optimizer = new AdamW(parameters, manager, 0.9f, 0.98f, 1e-8f, config.weightDecay());
    this.headFile = headFile;
    this.optimizerFile = optimizerFile;
  }

  Map<String, Parameter> parameters() {
    return parameters;
  }

  AdamW optimizer() {
    return optimizer;
  }

  void save(Path checkpoint, NDManager manager) throws IOException {
    Checkpoints.save(checkpoint.resolve(headFile), parameters, manager);
    optimizer.save(checkpoint.resolve(optimizerFile), manager);
  }

  /** The weights of {@code checkpoint}, when it has them; false: they stay as they start. */
  boolean load(Path checkpoint, NDManager manager) throws IOException {
    if (!Files.exists(checkpoint.resolve(headFile))) {
      return false;
    }
    Checkpoints.load(checkpoint.resolve(headFile), parameters, manager);
    optimizer.load(checkpoint.resolve(optimizerFile), manager);
    return true;
  }
}
