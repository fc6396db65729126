package io.mqtstream.camera;

import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import io.mqtstream.world.WorldConfig;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code synthetic:} camera URIs: {@code synthetic:split=test,start=0,clips=100,size=64,frames=4}.
 * Every key is optional (defaults: the test split from clip 0, without end, the {@code mqt-tiny}
 * world). An unknown key or a bad value fails naming it.
 */
public final class SyntheticCameraProvider implements SyntheticSourceProvider {
  private static final Set<String> KEYS = Set.of("split", "start", "clips", "size", "frames");

  @Override
  public CameraSource open(Map<String, String> options) {
    for (String k : options.keySet()) {
      if (!KEYS.contains(k)) {
        throw new IllegalArgumentException(
            "synthetic camera: unknown option '" + k + "' (known: " + KEYS + ")");
      }
    }
    WorldConfig tiny = WorldConfig.tiny();
    WorldConfig config =
        new WorldConfig(
            number(options, "size", tiny.imageSize()),
            number(options, "frames", tiny.frames()),
            tiny.minObjects(),
            tiny.maxObjects(),
            tiny.moving(),
            tiny.appearing(),
            tiny.checkered(),
            tiny.types());
    Split split;
    try {
      split = Split.valueOf(options.getOrDefault("split", "test").toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "synthetic camera: split must be train, validation or test");
    }
    return new SyntheticCamera(
        new SyntheticWorld(config),
        split,
        number(options, "start", 0),
        number(options, "clips", 0));
  }

  private static int number(Map<String, String> options, String key, int fallback) {
    String v = options.get(key);
    if (v == null) {
      return fallback;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "synthetic camera: " + key + " must be a whole number, got '" + v + "'");
    }
  }
}
