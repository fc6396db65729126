package io.mqtstream.camera;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Hook through which the synthetic world (module {@code training}) supplies {@code synthetic:}
 * cameras without {@code ingest} depending on it. Found with {@link java.util.ServiceLoader}.
 */
public interface SyntheticSourceProvider {

  /** A source for the options of a {@code synthetic:key=value,key=value} URI. */
  CameraSource open(Map<String, String> options);

  /** Parses {@code key=value,key=value}; a bare word is a key with value {@code true}. */
  static Map<String, String> parse(String spec) {
    Map<String, String> options = new LinkedHashMap<>();
    for (String part : spec.split(",")) {
      if (part.isBlank()) {
        continue;
      }
      int eq = part.indexOf('=');
      if (eq < 0) {
        options.put(part.trim(), "true");
      } else {
        options.put(part.substring(0, eq).trim(), part.substring(eq + 1).trim());
      }
    }
    return options;
  }
}
