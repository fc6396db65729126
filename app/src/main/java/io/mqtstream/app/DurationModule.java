package io.mqtstream.app;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import java.io.IOException;
import java.time.Duration;

/**
 * Reads durations written as people write them: {@code 250ms}, {@code 10s}, {@code 5m}, {@code 1h}.
 */
final class DurationModule extends SimpleModule {
  private static final long serialVersionUID = 1L;

  DurationModule() {
    addDeserializer(
        Duration.class,
        new StdScalarDeserializer<>(Duration.class) {
          private static final long serialVersionUID = 1L;

          @Override
          public Duration deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
            try {
              return Durations.parse(p.getValueAsString());
            } catch (IllegalArgumentException e) {
              return (Duration)
                  ctx.handleWeirdStringValue(Duration.class, p.getValueAsString(), e.getMessage());
            }
          }
        });
  }
}
