package io.mqtstream.nn;

import ai.djl.engine.Engine;

/**
 * Starts DJL's PyTorch engine from the libtorch jars on the class path, never from a download. Call
 * {@link #pytorch()} instead of {@code Engine.getEngine("PyTorch")} so the offline setting is
 * applied even when the JVM was started without {@code -Dai.djl.offline=true}.
 */
public final class Engines {
  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Engines.class);

  private Engines() {}

  /**
   * The device for a {@code cpu | gpu | auto} setting: auto takes the first GPU when the engine
   * sees one (CUDA libtorch, {@code -Pcuda}), else the CPU.
   *
   * @throws IllegalArgumentException for gpu without a GPU, or an unknown setting
   */
  public static ai.djl.Device device(String setting) {
    DeviceSetting wanted = setting == null ? DeviceSetting.AUTO : DeviceSetting.parse(setting);
    int gpus = pytorch().getGpuCount();
    log.info("device {}: {} GPU(s) seen by libtorch {}", wanted, gpus, pytorch().getVersion());
    return switch (wanted) {
      case CPU -> ai.djl.Device.cpu();
      case GPU -> {
        if (gpus == 0) {
          throw new IllegalArgumentException(
              "device: gpu asked for, but the engine sees no GPU (CPU libtorch, or no CUDA device)");
        }
        yield ai.djl.Device.gpu();
      }
      case AUTO -> gpus > 0 ? ai.djl.Device.gpu() : ai.djl.Device.cpu();
    };
  }

  /** A device setting: {@code cpu}, {@code gpu} or {@code auto}. */
  public enum DeviceSetting {
    CPU,
    GPU,
    AUTO;

    /**
     * The setting a configuration names: the one place a device name is checked.
     *
     * @throws IllegalArgumentException for any other name
     */
    public static DeviceSetting parse(String name) {
      for (DeviceSetting d : values()) {
        if (d.name().toLowerCase(java.util.Locale.ROOT).equals(name)) {
          return d;
        }
      }
      throw new IllegalArgumentException("must be cpu, gpu or auto, was '" + name + "'");
    }
  }

  /** The PyTorch engine, loaded offline. */
  public static Engine pytorch() {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    return Engine.getEngine("PyTorch");
  }
}
