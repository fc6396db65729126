package io.mqtstream.app.engine;

import io.mqtstream.ingest.GroupLag;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The consumer group's lag on the frames topic, as an autoscaler sees it: log-end offsets minus
 * committed offsets, summed over partitions. Read from the cluster every second on its own thread.
 */
final class LagMonitor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LagMonitor.class);

  private final Admin admin;
  private final String topic;
  private final String group;
  private final AtomicLong lag = new AtomicLong();
  private final ScheduledExecutorService timer =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "mqt-lag");
            t.setDaemon(true);
            return t;
          });

  LagMonitor(Map<String, Object> clientProperties, String topic, String group) {
    Map<String, Object> p = new HashMap<>(clientProperties);
    p.keySet().removeIf(k -> k.contains("serializer") || k.contains("deserializer"));
    this.admin = Admin.create(p);
    this.topic = topic;
    this.group = group;
  }

  void start(Duration every) {
    timer.scheduleWithFixedDelay(this::refresh, 0, every.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The last lag read, in records. */
  long lag() {
    return lag.get();
  }

  private void refresh() {
    try {
      lag.set(GroupLag.of(admin, topic, group));
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
