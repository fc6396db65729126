package io.mqtstream.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Coverage-guided fuzzing of the configuration loader (Jazzer): any text, YAML or not, ends in a
 * configuration or in a {@link ConfigException} that names the key, never in another exception or
 * an {@code Error} (deep nesting, aliases, huge numbers included). Runs for its {@code maxDuration}
 * in every build, in a JVM of its own.
 */
class EngineConfigFuzzTest {

  @FuzzTest(maxDuration = "20s")
  void anyTextEndsInAConfigurationOrAnErrorNamingTheKey(String yaml) {
    try {
      EngineConfig c = EngineConfig.parse(yaml, "fuzz.yaml");
      assertThat(c.kafka()).isNotNull();
    } catch (ConfigException e) {
      assertThat(e.key()).as("the key of %s", e.getMessage()).isNotBlank();
    }
  }
}
