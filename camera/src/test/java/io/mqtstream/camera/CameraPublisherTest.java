package io.mqtstream.camera;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import javax.imageio.ImageIO;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.bytedeco.ffmpeg.global.avcodec;
import org.bytedeco.javacv.FFmpegFrameRecorder;
import org.bytedeco.javacv.Java2DFrameConverter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The camera publisher against real FFmpeg decoding and a real embedded broker. */
@Tag("kafka")
class CameraPublisherTest {
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void startBroker() {
    kafka = EmbeddedKafka.start();
  }

  @AfterAll
  static void stopBroker() {
    kafka.close();
  }

  @Test
  void publishesEveryFrameOfAVideoFileAtItsSize(@TempDir Path dir) throws Exception {
    Path video = dir.resolve("clip.mp4");
    writeVideo(video, 96, 64, 30);
    kafka.createTopic("frames-cam", 1);

    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CameraPublisher.Result result;
    try (CameraPublisher publisher =
            new CameraPublisher(
                CameraPublisher.Options.of("file-cam").withTopic("frames-cam"),
                kafka.clientProperties(),
                meters);
        CameraSource source = CameraSources.open(video.toString())) {
      result = publisher.run(source);
    }
    assertThat(result.published()).isEqualTo(30);
    assertThat(result.dropped()).isZero();
    assertThat(meters.counter("mqt.camera.published", "camera", "file-cam").count()).isEqualTo(30);

    List<FrameRecord> frames = read("frames-cam", 30);
    assertThat(frames).hasSize(30);
    for (int i = 0; i < frames.size(); i++) {
      FrameRecord f = frames.get(i);
      assertThat(f.cameraId()).isEqualTo("file-cam");
      assertThat(f.sequence()).isEqualTo(i);
      assertThat(f.width()).isEqualTo(96);
      assertThat(f.height()).isEqualTo(64);
      assertThat(f.encoding()).isEqualTo(FrameRecord.Encoding.JPEG);
      BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(f.payload()));
      assertThat(decoded.getWidth()).isEqualTo(96);
      assertThat(decoded.getHeight()).isEqualTo(64);
    }
    // The red square moves right one pixel per frame: the decoded pictures follow the video.
    for (int i : new int[] {0, 10, 29}) {
      assertThat(redCentroidX(frames.get(i))).isCloseTo(5 + i + 7.5, within(2.0));
    }
  }

  @Test
  void liveSourceReconnectsWithBackoffAfterDrops() throws Exception {
    kafka.createTopic("frames-live", 1);
    FlakyLiveSource source = new FlakyLiveSource(2, 5);
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    CameraPublisher.Options options =
        CameraPublisher.Options.of("live-cam")
            .withTopic("frames-live")
            .withMaxFrames(10)
            .withBackoff(Duration.ofMillis(10), Duration.ofMillis(40), 5);
    CameraPublisher.Result result;
    try (CameraPublisher publisher =
        new CameraPublisher(options, kafka.clientProperties(), meters)) {
      result = publisher.run(source);
    }
    assertThat(result.published()).isEqualTo(10);
    // 2 failed opens, then a drop after 5 frames: 3 reconnects.
    assertThat(result.reconnects()).isEqualTo(3);
    assertThat(source.opens).isEqualTo(4);
    assertThat(read("frames-live", 10))
        .extracting(FrameRecord::sequence)
        .containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L);
  }

  @Test
  void liveSourceGivesUpAfterMaxReconnects() throws Exception {
    kafka.createTopic("frames-dead", 1);
    CameraPublisher.Options options =
        CameraPublisher.Options.of("dead-cam")
            .withTopic("frames-dead")
            .withBackoff(Duration.ofMillis(1), Duration.ofMillis(2), 2);
    try (CameraPublisher publisher =
        new CameraPublisher(options, kafka.clientProperties(), new SimpleMeterRegistry())) {
      assertThatThrownBy(() -> publisher.run(new FlakyLiveSource(Integer.MAX_VALUE, 0)))
          .hasMessageContaining("failed 3 times in a row");
    }
  }

  @Test
  void unknownSourcesFailWithTheUri() {
    assertThatThrownBy(() -> CameraSources.open("/no/such/file.mp4"))
        .hasMessageContaining("/no/such/file.mp4");
  }

  private static double redCentroidX(FrameRecord f) throws IOException {
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(f.payload()));
    double sum = 0;
    int n = 0;
    for (int y = 0; y < img.getHeight(); y++) {
      for (int x = 0; x < img.getWidth(); x++) {
        Color c = new Color(img.getRGB(x, y));
        if (c.getRed() > 150 && c.getGreen() < 100 && c.getBlue() < 100) {
          sum += x;
          n++;
        }
      }
    }
    return sum / Math.max(n, 1);
  }

  static void writeVideo(Path file, int width, int height, int frames) throws Exception {
    Java2DFrameConverter converter = new Java2DFrameConverter();
    try (FFmpegFrameRecorder recorder = new FFmpegFrameRecorder(file.toFile(), width, height)) {
      recorder.setVideoCodec(avcodec.AV_CODEC_ID_MPEG4);
      recorder.setFormat("mp4");
      recorder.setFrameRate(30);
      recorder.setVideoBitrate(800_000);
      recorder.start();
      for (int i = 0; i < frames; i++) {
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.DARK_GRAY);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.RED);
        g.fillRect(5 + i, 20, 16, 16);
        g.dispose();
        recorder.record(converter.convert(img));
      }
      recorder.stop();
    }
    assertThat(Files.size(file)).isPositive();
  }

  private static List<FrameRecord> read(String topic, int expected) {
    Properties p = new Properties();
    p.putAll(kafka.clientProperties());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "cam-reader-" + System.nanoTime());
    List<FrameRecord> out = new ArrayList<>();
    try (KafkaConsumer<String, FrameRecord> c =
        new KafkaConsumer<>(p, new StringDeserializer(), new FrameRecordSerde())) {
      c.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (out.size() < expected && System.nanoTime() < deadline) {
        c.poll(Duration.ofMillis(200)).forEach(r -> out.add(r.value()));
      }
    }
    return out;
  }

  /** A live source whose first {@code failedOpens} opens fail and whose stream drops once. */
  private static final class FlakyLiveSource implements CameraSource {
    private final int failedOpens;
    private final int dropAfter;
    int opens;
    int grabbedSinceOpen;
    boolean dropped;

    FlakyLiveSource(int failedOpens, int dropAfter) {
      this.failedOpens = failedOpens;
      this.dropAfter = dropAfter;
    }

    @Override
    public void open() throws IOException {
      opens++;
      grabbedSinceOpen = 0;
      if (opens <= failedOpens) {
        throw new IOException("connection refused");
      }
    }

    @Override
    public Optional<Captured> grab() throws IOException {
      if (!dropped && grabbedSinceOpen == dropAfter) {
        dropped = true;
        throw new IOException("stream dropped");
      }
      grabbedSinceOpen++;
      return Optional.of(new Captured(new BufferedImage(32, 24, BufferedImage.TYPE_3BYTE_BGR)));
    }

    @Override
    public boolean live() {
      return true;
    }

    @Override
    public String describe() {
      return "flaky test camera";
    }

    @Override
    public void close() {}
  }
}
