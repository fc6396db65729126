package io.mqtstream.encoder;

import ai.djl.engine.Engine;

/**
 * Starts DJL's PyTorch engine from the libtorch jars on the class path, never from a download. Call
 * {@link #pytorch()} instead of {@code Engine.getEngine("PyTorch")} so the offline setting is
 * applied even when the JVM was started without {@code -Dai.djl.offline=true}.
 */
public final class Engines {
  private Engines() {}

  /** The PyTorch engine, loaded offline. */
  public static Engine pytorch() {
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    return Engine.getEngine("PyTorch");
  }
}
