package io.mqtstream.camera;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.mqtstream.wire.FrameRecord;
import io.mqtstream.wire.FrameRecordSerde;
import io.mqtstream.wire.JpegEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleUnaryOperator;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes one camera to the {@code frames} topic, keyed by camera id: grabs pictures from a
 * {@link CameraSource}, encodes them as JPEG, limits the frame rate, and reconnects a live source
 * with exponential backoff when it drops.
 *
 * <p>A file is paced at {@code fps} (every frame sent); a live source sends at most {@code fps}
 * frames a second and drops the rest. Counts go to {@code mqt.camera.published}, {@code
 * mqt.camera.dropped} and {@code mqt.camera.reconnects}, tagged by camera.
 */
public final class CameraPublisher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CameraPublisher.class);

  private final Options options;
  private final Producer<String, FrameRecord> producer;
  private final boolean ownsProducer;
  private final Published onPublished;
  private final JpegEncoder jpeg;
  private final Counter published;
  private final Counter dropped;
  private final Counter reconnects;
  private final AtomicLong sendFailures = new AtomicLong();
  private volatile boolean stopped;

  /**
   * What to publish and how.
   *
   * @param topic the frames topic
   * @param cameraId the key of every record
   * @param fps frames per second; 0 sends as fast as the source gives them
   * @param jpegQuality 0..1
   * @param loop restart a file at its end
   * @param maxFrames stop after this many frames are sent; 0 = no limit
   * @param initialBackoff first wait before reconnecting a live source
   * @param maxBackoff the longest wait between reconnects
   * @param maxReconnects give up after this many reconnects in a row; -1 = never
   */
  public record Options(
      String topic,
      String cameraId,
      double fps,
      float jpegQuality,
      boolean loop,
      long maxFrames,
      Duration initialBackoff,
      Duration maxBackoff,
      int maxReconnects) {
    public Options {
      if (cameraId == null || cameraId.isBlank()) {
        throw new IllegalArgumentException("cameraId: must not be empty");
      }
      if (fps < 0) {
        throw new IllegalArgumentException("fps: must be >= 0, got " + fps);
      }
      if (maxFrames < 0) {
        throw new IllegalArgumentException("maxFrames: must be >= 0, got " + maxFrames);
      }
    }

    public static Options of(String cameraId) {
      return new Options(
          "frames",
          cameraId,
          0,
          0.85f,
          false,
          0,
          Duration.ofMillis(500),
          Duration.ofSeconds(30),
          -1);
    }

    public Options withMaxFrames(long maxFrames) {
      return new Options(
          topic,
          cameraId,
          fps,
          jpegQuality,
          loop,
          maxFrames,
          initialBackoff,
          maxBackoff,
          maxReconnects);
    }

    public Options withBackoff(Duration initial, Duration max, int maxReconnects) {
      return new Options(
          topic, cameraId, fps, jpegQuality, loop, maxFrames, initial, max, maxReconnects);
    }

    public Options withTopic(String topic) {
      return new Options(
          topic,
          cameraId,
          fps,
          jpegQuality,
          loop,
          maxFrames,
          initialBackoff,
          maxBackoff,
          maxReconnects);
    }
  }

  /** What a run did. */
  public record Result(long published, long dropped, long reconnects) {}

  /** Told of each frame the broker acknowledged (on the producer's thread). */
  @FunctionalInterface
  public interface Published {
    void published(String cameraId, long sequence, long ackedAtMillis);
  }

  /** A publisher with a producer of its own (acks=all), closed with it. */
  public CameraPublisher(
      Options options, Map<String, Object> clientProperties, MeterRegistry meters) {
    this(options, producer(options, clientProperties), true, meters, (c, s, t) -> {});
  }

  /**
   * A publisher that shares {@code producer} with others (many cameras of one process, a load
   * test); the producer stays open when this publisher closes.
   */
  public CameraPublisher(
      Options options,
      Producer<String, FrameRecord> producer,
      MeterRegistry meters,
      Published onPublished) {
    this(options, producer, false, meters, onPublished);
  }

  private CameraPublisher(
      Options options,
      Producer<String, FrameRecord> producer,
      boolean ownsProducer,
      MeterRegistry meters,
      Published onPublished) {
    this.options = options;
    this.jpeg = new JpegEncoder(options.jpegQuality());
    this.producer = producer;
    this.ownsProducer = ownsProducer;
    this.onPublished = onPublished;
    Tags tags = Tags.of("camera", options.cameraId());
    this.published = meters.counter("mqt.camera.published", tags);
    this.dropped = meters.counter("mqt.camera.dropped", tags);
    this.reconnects = meters.counter("mqt.camera.reconnects", tags);
  }

  /** A producer for frames: acks=all, keyed by camera id, the FrameRecord serde. */
  public static KafkaProducer<String, FrameRecord> producer(
      Options options, Map<String, Object> clientProperties) {
    Properties props = new Properties();
    props.putAll(clientProperties);
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "5");
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "mqt-camera-" + options.cameraId());
    return new KafkaProducer<>(props, new StringSerializer(), new FrameRecordSerde());
  }

  /**
   * Publishes until the source ends (a file without loop), {@code maxFrames}, or {@link #stop()}.
   */
  public Result run(CameraSource source) throws InterruptedException {
    return run(source, null, u -> 1.0);
  }

  /**
   * Publishes for {@code duration} (null: until the source ends, {@code maxFrames} or {@link
   * #stop()}) at {@code fps × rate(u)}, u ∈ [0, 1) the fraction of the duration gone (a load
   * profile; constant 1 without a duration).
   */
  public Result run(CameraSource source, Duration duration, DoubleUnaryOperator rate)
      throws InterruptedException {
    long sequence = 0;
    long startNanos = System.nanoTime();
    long endNanos = duration == null ? Long.MAX_VALUE : startNanos + duration.toNanos();
    long nextSlot = startNanos;
    int failuresInRow = 0;
    Duration backoff = options.initialBackoff();
    boolean open = false;
    try {
      boolean sentSinceOpen = false;
      while (!stopped
          && (options.maxFrames() == 0 || sequence < options.maxFrames())
          && System.nanoTime() < endNanos) {
        try {
          if (!open) {
            source.open();
            open = true;
            sentSinceOpen = false;
            log.debug("camera {} reading {}", options.cameraId(), source.describe());
          }
          Optional<CameraSource.Captured> next = source.grab();
          failuresInRow = 0;
          backoff = options.initialBackoff();
          if (next.isEmpty()) {
            if (source.live() || options.loop()) {
              open = false; // a live stream that ended is a drop; a looped file starts again
              if (source.live()) {
                throw new IOException("stream ended");
              }
              if (!sentSinceOpen) {
                throw new IllegalStateException(source.describe() + " has no frames");
              }
              continue;
            }
            break;
          }
          long now = System.nanoTime();
          double fps =
              duration == null
                  ? options.fps()
                  : options.fps()
                      * rate.applyAsDouble(
                          Math.min(1.0, (double) (now - startNanos) / duration.toNanos()));
          if (fps > 0) {
            if (source.live() && now < nextSlot) {
              dropped.increment(); // a live camera is faster than asked: skip this picture
              continue;
            }
            if (!source.live() && now < nextSlot) {
              long wait = Math.min(nextSlot, endNanos) - now;
              TimeUnit.NANOSECONDS.sleep(wait);
              if (System.nanoTime() >= endNanos) {
                break;
              }
            }
            nextSlot = Math.max(nextSlot + (long) (1e9 / fps), System.nanoTime());
          }
          sentSinceOpen = true;
          send(sequence++, next.get());
        } catch (IOException e) {
          source.close();
          open = false;
          if (!source.live()) {
            throw new IllegalStateException(source.describe() + ": " + e.getMessage(), e);
          }
          failuresInRow++;
          if (options.maxReconnects() >= 0 && failuresInRow > options.maxReconnects()) {
            throw new IllegalStateException(
                source.describe()
                    + " failed "
                    + failuresInRow
                    + " times in a row: "
                    + e.getMessage(),
                e);
          }
          log.warn(
              "camera {}: {}; reconnecting in {} ms",
              options.cameraId(),
              e.getMessage(),
              backoff.toMillis());
          reconnects.increment();
          Thread.sleep(backoff.toMillis());
          backoff = min(backoff.multipliedBy(2), options.maxBackoff());
        }
      }
    } finally {
      source.close();
      if (ownsProducer) {
        producer.flush();
      }
    }
    return new Result(
        (long) published.count() - sendFailures.get(),
        (long) dropped.count() + sendFailures.get(),
        (long) reconnects.count());
  }

  private void send(long sequence, CameraSource.Captured captured) {
    byte[] bytes = jpeg.encode(captured.image());
    long captureMicros = TimeUnit.MILLISECONDS.toMicros(System.currentTimeMillis());
    FrameRecord frame =
        new FrameRecord(
            options.cameraId(),
            sequence,
            captureMicros,
            captured.image().getWidth(),
            captured.image().getHeight(),
            FrameRecord.Encoding.JPEG,
            bytes);
    ProducerRecord<String, FrameRecord> record =
        new ProducerRecord<>(options.topic(), options.cameraId(), frame);
    captured
        .headers()
        .forEach((k, v) -> record.headers().add(k, v.getBytes(StandardCharsets.UTF_8)));
    published.increment();
    producer.send(
        record,
        (meta, e) -> {
          if (e != null) {
            sendFailures.incrementAndGet();
            log.warn(
                "camera {} frame {} not published: {}", options.cameraId(), sequence, e.toString());
          } else {
            onPublished.published(options.cameraId(), sequence, System.currentTimeMillis());
          }
        });
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /** Asks a running {@link #run} to finish after the current frame. */
  public void stop() {
    stopped = true;
  }

  @Override
  public void close() {
    stop();
    if (ownsProducer) {
      producer.close();
    }
  }
}
