package io.mqtstream.camera;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.wire.FrameRecord;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** Pacing over a run with a rate profile, on a shared producer (Kafka's MockProducer). */
class CameraPublisherPacingTest {

  @Test
  void aProfiledRunSendsNoMoreThanItsRateAllowsAndLeavesASharedProducerOpen() throws Exception {
    MockProducer<String, FrameRecord> producer =
        new MockProducer<>(true, null, new StringSerializer(), (t, f) -> new byte[0]);
    List<Long> acked = new ArrayList<>();
    CameraPublisher.Options options =
        new CameraPublisher.Options(
            "frames", "cam-0", 20, 0.9f, true, 0, Duration.ofMillis(1), Duration.ofMillis(1), -1);
    CameraPublisher.Result result;
    try (CameraSource source = CameraSources.open("synthetic:split=test,clips=1");
        CameraPublisher publisher =
            new CameraPublisher(
                options,
                producer,
                new SimpleMeterRegistry(),
                (camera, seq, at) -> acked.add(seq))) {
      // 5 fps for the first half second, then 20 fps: at most 2.5 + 10 frames, plus the first
      result = publisher.run(source, Duration.ofSeconds(1), u -> u < 0.5 ? 0.25 : 1.0);
    }
    assertThat(result.published()).isBetween(1L, 14L);
    assertThat(acked).hasSize((int) result.published());
    assertThat(acked).isSorted().startsWith(0L);
    assertThat(producer.history()).allSatisfy(r -> assertThat(r.key()).isEqualTo("cam-0"));
    assertThat(producer.closed()).as("a shared producer is the caller's to close").isFalse();
  }
}
