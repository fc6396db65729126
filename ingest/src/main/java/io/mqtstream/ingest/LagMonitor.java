package io.mqtstream.ingest;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer group's lag on a topic, as an autoscaler sees it: log-end offsets minus committed
 * offsets, summed over partitions ({@link GroupLag}). Read from the cluster at a fixed interval on
 * its own thread; the engine's token budget and the load-test harness both watch it.
 */
public final class LagMonitor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LagMonitor.class);

  private final Admin admin;
  private final String topic;
  private final String group;
  private final AtomicLong lag = new AtomicLong();
  private final LongConsumer onReading;
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "mqt-lag");
            t.setDaemon(true);
            return t;
          });

  /**
   * @param clientProperties bootstrap servers and any client properties (serializers are dropped)
   */
  public LagMonitor(Map<String, Object> clientProperties, String topic, String group) {
    this(clientProperties, topic, group, lag -> {});
  }

  /** As above, telling {@code onReading} each lag read (on the monitor's thread). */
  public LagMonitor(
      Map<String, Object> clientProperties, String topic, String group, LongConsumer onReading) {
    this.onReading = onReading;
    Map<String, Object> p = new HashMap<>(clientProperties);
    p.keySet().removeIf(k -> k.contains("serializer") || k.contains("deserializer"));
    this.admin = Admin.create(p);
    this.topic = topic;
    this.group = group;
  }

  /** Starts reading, the first time at once. */
  public void start(Duration every) {
    timer.scheduleWithFixedDelay(this::refresh, 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The last lag read, in records. */
  public long lag() {
    return lag.get();
  }

  private void refresh() {
    try {
      long now = GroupLag.of(admin, topic, group);
      lag.set(now);
      onReading.accept(now);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      log.debug("lag not read this time: {}", e.toString());
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
    admin.close(Duration.ofSeconds(2));
  }
}
