package io.mqtstream.ingest;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

/**
 * The engine's entry: a {@code Flux<Frame>} over the {@code frames} topic with real backpressure.
 *
 * <p>Each subscription is one Kafka consumer in the configured group, driven by one polling thread
 * of its own. Invariants:
 *
 * <ul>
 *   <li>emits at most what downstream requested; records read from Kafka and not yet acknowledged
 *       never exceed {@link FrameSourceConfig#maxInFlight()};
 *   <li>the consumer's partitions are paused while downstream demand is zero (or the in-flight
 *       bound is reached) and resumed when it returns, so nothing buffers without bound;
 *   <li>an offset is committed only when its frame and every earlier frame of its partition were
 *       acknowledged ({@link Frame#ack()}), in offset order; acknowledged offsets are committed on
 *       partition revocation and on stop;
 *   <li>a record that cannot be deserialized goes to the dead-letter topic with the reason and its
 *       source position, and counts as handled once the broker has it; the stream goes on.
 * </ul>
 *
 * Under {@link Delivery#EXACTLY_ONCE} each subscription also owns a transactional producer: a
 * frame's outputs handed to {@link Frame#ackWith} and its offset are committed in one transaction
 * (the consumer reads {@code read_committed}). A process killed mid-transaction leaves it open
 * until {@code transaction.timeout.ms} (10 s unless the client properties say otherwise); the
 * partitions' next owner waits for that before it reads on.
 *
 * <p>{@link #stop()} is the graceful shutdown: stop polling, wait for in-flight frames to be
 * acknowledged (up to the drain timeout), commit, complete. Cancelling the subscription closes at
 * once, committing only what was acknowledged.
 */
public final class KafkaFrameSource implements AutoCloseable {
  private final FrameSourceConfig config;
  private final Map<String, Object> clientProperties;
  private final DeadLetterPublisher deadLetters;
  private final Set<FramePoller> pollers = ConcurrentHashMap.newKeySet();
  private final Stats stats;
  private final AtomicInteger subscriptions = new AtomicInteger();
  private final String instance = UUID.randomUUID().toString();

  /**
   * @param config source settings
   * @param clientProperties bootstrap servers plus any consumer/producer properties passed through
   *     to the Kafka clients (security, timeouts); deserializers and commit settings are ours
   * @param meters where the source's meters go ({@code mqt.ingest.*})
   */
  public KafkaFrameSource(
      FrameSourceConfig config, Map<String, Object> clientProperties, MeterRegistry meters) {
    this.config = config;
    this.clientProperties = Map.copyOf(clientProperties);
    this.deadLetters = new DeadLetterPublisher(clientProperties, config.deadLetterTopic());
    this.stats = new Stats(meters);
  }

  public KafkaFrameSource(FrameSourceConfig config, Map<String, Object> clientProperties) {
    this(config, clientProperties, new SimpleMeterRegistry());
  }

  /** The frames; each subscription is a new consumer in the group. */
  public Flux<Frame> frames() {
    return Flux.create(
        sink -> {
          int subscription = subscriptions.incrementAndGet();
          FramePoller poller =
              new FramePoller(
                  config,
                  consumerProperties(),
                  config.delivery() == Delivery.EXACTLY_ONCE
                      ? transactionalProducerProperties(subscription)
                      : null,
                  deadLetters,
                  sink,
                  stats,
                  "mqt-poll-" + config.groupId() + "-" + subscription,
                  pollers::remove);
          pollers.add(poller);
          poller.start();
        },
        // The poller never emits beyond demand; ERROR makes a broken contract loud.
        FluxSink.OverflowStrategy.ERROR);
  }

  /** Graceful stop of every subscription: drain, commit, complete. Returns at once. */
  public void stop() {
    pollers.forEach(FramePoller::stop);
  }

  /** Counters that tests and metrics read: in flight, pauses, delivered, dead-lettered. */
  public Stats stats() {
    return stats;
  }

  private Properties consumerProperties() {
    Properties props = new Properties();
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.putAll(clientProperties);
    props.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Integer.toString(config.maxPollRecords()));
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(
        ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    if (config.delivery() == Delivery.EXACTLY_ONCE) {
      props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    }
    return props;
  }

  /**
   * One producer per consumer, its transactional id unique to this source: fencing a member that a
   * rebalance left behind is the group generation's job ({@code sendOffsetsToTransaction} with the
   * consumer's group metadata), not the id's.
   */
  private Properties transactionalProducerProperties(int subscription) {
    Properties props = new Properties();
    props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, "10000");
    clientProperties.forEach(
        (k, v) -> {
          if (ProducerConfig.configNames().contains(k)) {
            props.put(k, v);
          }
        });
    props.put(
        ProducerConfig.TRANSACTIONAL_ID_CONFIG,
        "mqt-" + config.groupId() + "-" + instance + "-" + subscription);
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    return props;
  }

  /**
   * Stops every subscription, waits until each has committed and closed its consumer, then closes
   * the dead-letter producer.
   */
  @Override
  public void close() {
    stop();
    pollers.forEach(FramePoller::awaitTermination);
    deadLetters.close();
  }

  /** Live counters of a source, shared by its subscriptions. */
  public static final class Stats {
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();
    private final Counter pauses;
    private final Counter delivered;
    private final Counter deadLettered;
    private final Counter committed;

    Stats(MeterRegistry meters) {
      meters.gauge("mqt.ingest.inflight", inFlight);
      delivered = meters.counter("mqt.ingest.frames");
      deadLettered = meters.counter("mqt.dlq", "stage", "deserialize");
      committed = meters.counter("mqt.ingest.commits");
      pauses = meters.counter("mqt.ingest.pauses");
    }

    void inFlight(int delta) {
      int now = inFlight.addAndGet(delta);
      maxInFlight.accumulateAndGet(now, Math::max);
    }

    void onPaused() {
      pauses.increment();
    }

    void onDelivered() {
      delivered.increment();
    }

    void onDeadLettered() {
      deadLettered.increment();
    }

    void onCommitted() {
      committed.increment();
    }

    /** Records read and not yet acknowledged, over all subscriptions. */
    public int inFlight() {
      return inFlight.get();
    }

    /** The highest {@link #inFlight()} seen. */
    public int maxInFlightSeen() {
      return maxInFlight.get();
    }

    /** How many times the partitions were paused for lack of demand or in-flight room. */
    public long pauses() {
      return (long) pauses.count();
    }

    public long delivered() {
      return (long) delivered.count();
    }

    public long deadLettered() {
      return (long) deadLettered.count();
    }
  }
}
