package io.mqtstream.app;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses {@code 250ms}, {@code 10s}, {@code 5m}, {@code 1h} (and ISO-8601 {@code PT5M}). */
public final class Durations {
  private static final Pattern SIMPLE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h)");

  private Durations() {}

  public static Duration parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("no duration given");
    }
    String t = text.trim().toLowerCase(java.util.Locale.ROOT);
    Matcher m = SIMPLE.matcher(t);
    if (m.matches()) {
      double v = Double.parseDouble(m.group(1));
      long millis =
          switch (m.group(2)) {
            case "ms" -> (long) v;
            case "s" -> (long) (v * 1_000);
            case "m" -> (long) (v * 60_000);
            default -> (long) (v * 3_600_000);
          };
      return Duration.ofMillis(millis);
    }
    if (t.startsWith("pt")) {
      return Duration.parse(text.trim());
    }
    throw new IllegalArgumentException(
        "not a duration: '" + text + "' (use e.g. 250ms, 10s, 5m, 1h)");
  }

  /** picocli converter for duration options. */
  public static final class Converter implements picocli.CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      return parse(value);
    }
  }
}
