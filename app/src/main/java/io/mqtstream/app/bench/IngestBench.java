package io.mqtstream.app.bench;

import io.mqtstream.embedded.EmbeddedKafka;
import io.mqtstream.ingest.FrameSourceConfig;
import io.mqtstream.ingest.KafkaFrameSource;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import io.mqtstream.wire.JpegEncoder;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import reactor.core.Disposable;

/**
 * Frames per second through {@link KafkaFrameSource} (deserialize, ack, ordered commits) against a
 * bare {@link KafkaConsumer} poll loop, on one embedded broker and the same frames. Each round
 * reads the whole topic with a fresh group, raw then engine; the median round of each is reported.
 * Time runs from the first record to the last, so group joins do not count.
 */
public final class IngestBench {
  private static final String TOPIC = "bench-frames";
  private static final int PARTITIONS = 4;

  private final int frames;
  private final int rounds;

  public IngestBench(int frames, int rounds) {
    if (frames < 1 || rounds < 1) {
      throw new IllegalArgumentException("bench ingest: --frames and --rounds must be >= 1");
    }
    this.frames = frames;
    this.rounds = rounds;
  }

  /** The measured rates. */
  public record Result(
      int frames,
      int rounds,
      double engineFps,
      double rawConsumerFps,
      double engineMedianFps,
      double rawMedianFps,
      int payloadBytes) {
    public double ratio() {
      return engineFps / rawConsumerFps;
    }

    public String toJson() {
      return String.format(
          Locale.ROOT,
          "{\"engine_fps\":%.0f,\"raw_consumer_fps\":%.0f,\"ratio\":%.3f,"
              + "\"engine_median_fps\":%.0f,\"raw_median_fps\":%.0f,\"median_ratio\":%.3f,"
              + "\"frames\":%d,\"rounds\":%d,\"payload_bytes\":%d}",
          engineFps,
          rawConsumerFps,
          ratio(),
          engineMedianFps,
          rawMedianFps,
          engineMedianFps / rawMedianFps,
          frames,
          rounds,
          payloadBytes);
    }

    public String toTable() {
      return String.format(
          Locale.ROOT,
          "| reader | best frames/s | median frames/s |%n|---|---|---|%n"
              + "| KafkaFrameSource (deserialize+ack+commit) | %.0f | %.0f |%n"
              + "| bare KafkaConsumer poll loop | %.0f | %.0f |%n"
              + "| ratio | %.3f | %.3f |%n",
          engineFps,
          engineMedianFps,
          rawConsumerFps,
          rawMedianFps,
          ratio(),
          engineMedianFps / rawMedianFps);
    }
  }

  public Result run() throws Exception {
    try (EmbeddedKafka kafka = EmbeddedKafka.start()) {
      kafka.createTopic(TOPIC, PARTITIONS);
      kafka.createTopic(TOPIC + ".dlq", 1);
      int payload = produce(kafka);
      System.err.printf(
          "bench ingest: %d frames of %d bytes on %d partitions%n", frames, payload, PARTITIONS);
      readRaw(kafka, "warmup-raw");
      readEngine(kafka, "warmup-engine");
      double[] raw = new double[rounds];
      double[] engine = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        raw[r] = readRaw(kafka, "raw-" + r);
        engine[r] = readEngine(kafka, "engine-" + r);
        System.err.printf(
            Locale.ROOT,
            "round %d/%d: raw %.0f fps, engine %.0f fps%n",
            r + 1,
            rounds,
            raw[r],
            engine[r]);
      }
      return new Result(
          frames, rounds, max(engine), max(raw), median(engine), median(raw), payload);
    }
  }

  private int produce(EmbeddedKafka kafka) {
    BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_3BYTE_BGR);
    Graphics2D g = img.createGraphics();
    g.setColor(Color.BLUE);
    g.fillOval(10, 10, 30, 30);
    g.dispose();
    byte[] jpeg = new JpegEncoder(0.85f).encode(img);
    Properties p = new Properties();
    p.putAll(kafka.clientProperties());
    p.put(ProducerConfig.LINGER_MS_CONFIG, "10");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
    try (KafkaProducer<String, FrameRecord> producer =
        new KafkaProducer<>(p, new StringSerializer(), new FrameRecordSerde())) {
      for (int i = 0; i < frames; i++) {
        String camera = "cam-" + (i % 8);
        producer.send(
            new ProducerRecord<>(
                TOPIC,
                camera,
                new FrameRecord(camera, i / 8, i, 64, 64, FrameRecord.Encoding.JPEG, jpeg)));
      }
      producer.flush();
    }
    return jpeg.length;
  }

  private double readRaw(EmbeddedKafka kafka, String group) {
    Properties p = new Properties();
    p.putAll(kafka.clientProperties());
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "64");
    long first = 0;
    int n = 0;
    try (KafkaConsumer<byte[], byte[]> c =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      c.subscribe(List.of(TOPIC));
      while (n < frames) {
        ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(100));
        if (!rs.isEmpty() && first == 0) {
          first = System.nanoTime();
        }
        n += rs.count();
      }
      c.commitSync();
      return rate(n, first);
    }
  }

  private double readEngine(EmbeddedKafka kafka, String group) throws InterruptedException {
    FrameSourceConfig cfg = FrameSourceConfig.defaults(TOPIC, group);
    AtomicLong first = new AtomicLong();
    AtomicInteger n = new AtomicInteger();
    CountDownLatch all = new CountDownLatch(1);
    CountDownLatch committed = new CountDownLatch(1);
    try (KafkaFrameSource source = new KafkaFrameSource(cfg, kafka.clientProperties())) {
      Disposable d =
          source
              .frames()
              .subscribe(
                  f -> {
                    first.compareAndSet(0, System.nanoTime());
                    f.ack();
                    if (n.incrementAndGet() == frames) {
                      all.countDown();
                    }
                  },
                  e -> committed.countDown(),
                  committed::countDown);
      if (!all.await(5, TimeUnit.MINUTES)) {
        throw new IllegalStateException("engine read " + n.get() + " of " + frames + " frames");
      }
      source.stop(); // the final commit is part of the measured work: the flux completes after it
      committed.await(1, TimeUnit.MINUTES);
      double fps = rate(n.get(), first.get());
      d.dispose();
      return fps;
    }
  }

  private static double rate(int n, long firstNanos) {
    return n / ((System.nanoTime() - firstNanos) / 1e9);
  }

  private static double max(double[] xs) {
    return Arrays.stream(xs).max().orElseThrow();
  }

  private static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
