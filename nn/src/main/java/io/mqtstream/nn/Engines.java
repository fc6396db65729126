package io.mqtstream.nn;

import ai.djl.engine.Engine;

/**
 * Starts DJL's PyTorch engine from the libtorch jars on the class path, never from a download. Call
 * {@link #pytorch()} instead of {@code Engine.getEngine("PyTorch")} so the offline setting is
 * applied even when the JVM was started without {@code -Dai.djl.offline=true}.
 */
public final class Engines {
  private Engines() {}

  /**
   * The device for a {@code cpu | gpu | auto} setting: auto takes the first GPU when the engine
   * sees one (CUDA libtorch, {@code -Pcuda}), else the CPU.
   *
   * @throws IllegalArgumentException for gpu without a GPU, or an unknown setting
   */
  public static ai.djl.Device device(String setting) {
    int gpus = pytorch().getGpuCount();
    return switch (setting == null ? "auto" : setting) {
      case "cpu" -> ai.djl.Device.cpu();
      case "gpu" -> {
        if (gpus == 0) {
          throw new IllegalArgumentException(
              "device: gpu asked for, but the engine sees no GPU (CPU libtorch, or no CUDA device)");
        }
        yield ai.djl.Device.gpu();
      }
      case "auto" -> gpus > 0 ? ai.djl.Device.gpu() : ai.djl.Device.cpu();
      default ->
          throw new IllegalArgumentException(
              "device: must be cpu, gpu or auto, got '" + setting + "'");
    };
  }

  /** The PyTorch engine, loaded offline. */
  public static Engine pytorch() {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    return Engine.getEngine("PyTorch");
  }
}
