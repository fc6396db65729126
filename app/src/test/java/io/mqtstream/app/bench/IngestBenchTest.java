package io.mqtstream.app.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A small run of the ingest benchmark: each reader's round ends only when it has read every frame,
 * so a run that returns read all 2,000 both ways; the figures themselves are the benchmark's, not
 * this test's.
 */
@Tag("kafka")
class IngestBenchTest {

  @Test
  void measuresBothReadersOverTheSameFrames() throws Exception {
    IngestBench.Result r = new IngestBench(2_000, 1).run();
    JsonNode json = new ObjectMapper().readTree(r.toJson());
    assertThat(json.get("frames").asInt()).isEqualTo(2_000);
    assertThat(json.get("engine_fps").asDouble()).isPositive();
    assertThat(json.get("raw_consumer_fps").asDouble()).isPositive();
    assertThat(json.get("payload_bytes").asInt()).isPositive();
  }
}
