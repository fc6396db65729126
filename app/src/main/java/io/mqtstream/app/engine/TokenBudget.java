package io.mqtstream.app.engine;

import io.mqtstream.app.EngineConfig;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.scheduler.Scheduler;

/**
 * Chooses m, the visual tokens per frame, from backpressure: the point of the engine. Under
 * sustained overload m is cut multiplicatively; when every signal has been relaxed for a while it
 * steps up to the next allowed value (AIMD over the allowed set). Between "overloaded" and
 * "relaxed" lies a dead band in which m stays put, and each move needs several looks in a row, so a
 * steady load does not make m flap.
 *
 * <p>Accuracy floors and load shedding: a camera's m never goes below its floor ({@code
 * budget.floors}), and when m is at the floor (or fixed) and the load still cannot be carried, the
 * budget sheds instead of lowering m: it asks on every k-th frame of a camera ({@link #stride()}),
 * k growing by one per cut up to {@code maxStride}; when relaxed, k steps back to 1 before m
 * climbs.
 *
 * <p>A step up that the load soon cuts back makes the next one wait twice as long ({@link
 * #PROBE_WINDOW}): the budget probes for capacity, and backs off where the probe keeps failing.
 */
public final class TokenBudget {

  /** How m is chosen. */
  public enum Policy {
    ADAPTIVE,
    FIXED;

    /**
     * The policy a configuration names ({@code adaptive} or {@code fixed}): the one place a policy
     * name is checked.
     *
     * @throws IllegalArgumentException for any other name
     */
    public static Policy parse(String name) {
      for (Policy p : values()) {
        if (p.name().toLowerCase(java.util.Locale.ROOT).equals(name)) {
          return p;
        }
      }
      throw new IllegalArgumentException("must be adaptive or fixed, was " + name);
    }
  }

  /**
   * The configured budget resolved against the model's M: what the configuration leaves relative to
   * M (ceiling 0, fixedM 0, values above M) made concrete; everything else is read from {@code
   * config}.
   *
   * @param config the budget as configured
   * @param policy adaptive or fixed
   * @param allowed the values m may take, ascending, within [floor, ceiling], M included
   * @param floor the lowest adaptive m
   * @param ceiling the highest m (M unless configured lower)
   * @param fixedM m under the fixed policy
   * @param overrides per-camera fixed m, at most M
   */
  public record Settings(
      EngineConfig.Budget config,
      Policy policy,
      int[] allowed,
      int floor,
      int ceiling,
      int fixedM,
      Map<String, Integer> overrides,
      Map<String, Integer> floors,
      int maxStride) {

    /** The configured budget for a model with {@code maxTokens} = M. */
    public static Settings of(EngineConfig.Budget b, int maxTokens) {
      int ceiling = b.ceiling() == 0 ? maxTokens : Math.min(b.ceiling(), maxTokens);
      int[] allowed =
          b.allowed().stream()
              .mapToInt(Integer::intValue)
              .filter(m -> m >= Math.min(b.floor(), ceiling) && m <= ceiling)
              .toArray();
      if (allowed.length == 0 || allowed[allowed.length - 1] != ceiling) {
        allowed = Arrays.copyOf(allowed, allowed.length + 1);
        allowed[allowed.length - 1] = ceiling; // M itself is always allowed
        Arrays.sort(allowed);
      }
      int fixedM = b.fixedM() == 0 ? ceiling : Math.min(b.fixedM(), maxTokens);
      Map<String, Integer> overrides = new java.util.HashMap<>();
      b.overrides().forEach((camera, m) -> overrides.put(camera, Math.min(m, maxTokens)));
      Map<String, Integer> floors = new java.util.HashMap<>();
      b.floors().forEach((camera, m) -> floors.put(camera, Math.min(m, ceiling)));
      return new Settings(
          b,
          Policy.parse(b.policy()),
          allowed,
          allowed[0],
          ceiling,
          fixedM,
          Map.copyOf(overrides),
          Map.copyOf(floors),
          b.maxStride());
    }
  }

  /**
   * What the budget looks at, sampled once per interval.
   *
   * @param latency recent capture-to-answer latency (zero when nothing was answered lately)
   * @param stepLatency the reasoner's last step (prefill or decode)
   * @param queueDepth prompts waiting for the reasoner
   * @param maxQueue the prompt queue's bound: a full queue means upstream is being held back
   * @param lag frames in Kafka not yet committed by the engine's group
   * @param utilization the fraction of the last interval the reasoner was busy (0..1)
   */
  public record Load(
      Duration latency,
      Duration stepLatency,
      int queueDepth,
      int maxQueue,
      long lag,
      double utilization) {}

  /**
   * A step up must leave headroom: the reasoner's utilisation, scaled by the cost ratio of the next
   * m to the current one (prompt cost grows about linearly in m), must stay below this. It stops
   * the climb at the m the load can carry instead of overshooting and being cut again.
   */
  static final double HEADROOM = 0.85;

  /**
   * A step up (m up, or the stride down) that the load cuts back within this many times {@code
   * increaseAfter} looks has failed: the signals the headroom gate reads do not see every cost (a
   * shed frame is still decoded and encoded), so a step can fit by the gate and not by the machine.
   * After a failure the next step up waits twice as long, up to {@link #MAX_BACKOFF} times {@code
   * increaseAfter}; a step that holds for the window resets the wait (as a retransmission timer
   * backs off and resets).
   */
  static final int PROBE_WINDOW = 4;

  /** The longest wait before a step up, in multiples of {@code increaseAfter}. */
  static final int MAX_BACKOFF = 16;

  private static final Logger log = LoggerFactory.getLogger(TokenBudget.class);

  private final Settings settings;
  private volatile int m;
  private volatile int stride = 1;
  private int overloadedLooks;
  private int relaxedLooks;
  private int coolingLooks;
  private int relaxWait; // relaxed looks the next step up needs: increaseAfter, doubled per failure
  private int sinceStepUp = -1; // looks since the last step up while it may still fail; -1 = none
  private volatile int failedSteps; // read by the metrics registry off the budget's thread
  private volatile double lastPressure;

  public TokenBudget(Settings settings) {
    this.settings = settings;
    this.m = settings.policy() == Policy.FIXED ? settings.fixedM() : settings.ceiling();
    this.relaxWait = settings.config().increaseAfter();
  }

  public Settings settings() {
    return settings;
  }

  /** The current m for cameras without an override. */
  public int m() {
    return m;
  }

  /** The m for this camera: its override, else the current m raised to the camera's floor. */
  public int m(String cameraId) {
    Integer fixed = settings.overrides().get(cameraId);
    if (fixed != null) {
      return fixed;
    }
    Integer floor = settings.floors().get(cameraId);
    return floor != null ? Math.max(m, floor) : m;
  }

  /** Load shedding: ask on every k-th frame of each camera (1 = on every frame). */
  public int stride() {
    return stride;
  }

  /** Steps up that the load cut back within the probe window (see {@link #PROBE_WINDOW}). */
  public int failedSteps() {
    return failedSteps;
  }

  /** The load of the last look, as a fraction of the limits (1 = at a limit). */
  public double pressure() {
    return lastPressure;
  }

  /**
   * Looks at the signals every interval on {@code scheduler} and emits m after each look; the
   * budget runs while the Flux is subscribed.
   */
  public Flux<Integer> run(Supplier<Load> signals, Scheduler scheduler) {
    return Flux.interval(settings.config().interval(), settings.config().interval(), scheduler)
        .map(tick -> observe(signals.get()));
  }

  /** One look: updates m (and the shedding stride) from the load and returns m. */
  public synchronized int observe(Load load) {
    double pressure = pressure(load);
    lastPressure = pressure;
    if (log.isDebugEnabled()) {
      log.debug(
          "look: pressure {} (latency {} ms, step {} ms, queue {}/{}, lag {}), reasoner busy {}",
          String.format(java.util.Locale.ROOT, "%.2f", pressure),
          load.latency().toMillis(),
          load.stepLatency().toMillis(),
          load.queueDepth(),
          load.maxQueue(),
          load.lag(),
          String.format(java.util.Locale.ROOT, "%.2f", load.utilization()));
    }
    boolean fixed = settings.policy() == Policy.FIXED;
    if (fixed && settings.maxStride() == 1) {
      return m;
    }
    if (coolingLooks > 0) {
      coolingLooks--;
    }
    int increaseAfter = settings.config().increaseAfter();
    if (sinceStepUp >= 0 && ++sinceStepUp > PROBE_WINDOW * increaseAfter) {
      sinceStepUp = -1; // the last step up held: the next one needs the usual wait
      relaxWait = increaseAfter;
    }
    if (pressure >= 1.0) {
      relaxedLooks = 0;
      if (++overloadedLooks >= settings.config().decreaseAfter() && coolingLooks == 0) {
        overloadedLooks = 0;
        int cut = fixed ? m : below(m);
        int shed = Math.min(stride + 1, settings.maxStride());
        if (cut != m || shed != stride) {
          if (cut != m) {
            m = cut;
          } else { // m cannot go lower: shed instead
            stride = shed;
          }
          cooldown();
          if (sinceStepUp >= 0) { // the last step up did not hold: wait longer before the next
            sinceStepUp = -1;
            failedSteps++;
            relaxWait = Math.min(relaxWait * 2, MAX_BACKOFF * increaseAfter);
            log.info(
                "token budget: the last step up did not hold; the next waits {} relaxed looks",
                relaxWait);
          }
        }
      }
    } else if (pressure < settings.config().lowWater()) {
      overloadedLooks = 0;
      if (stride > 1) {
        // undo shedding first, one step at a time: asking on every (k-1)-th window instead of
        // every k-th costs the reasoner k / (k-1) times the work
        if (load.utilization() * stride / (stride - 1) >= HEADROOM) {
          relaxedLooks = 0;
        } else if (++relaxedLooks >= relaxWait) {
          relaxedLooks = 0;
          stride--;
          sinceStepUp = 0;
        }
        return m;
      }
      if (fixed) {
        return m;
      }
      int next = above(m);
      if (next != m && load.utilization() * next / m >= HEADROOM) {
        relaxedLooks = 0; // relaxed at this m, but the next one would saturate the reasoner
      } else if (++relaxedLooks >= relaxWait) {
        relaxedLooks = 0;
        if (next != m) {
          m = next;
          sinceStepUp = 0;
        }
      }
    } else {
      overloadedLooks = 0;
      relaxedLooks = 0;
    }
    return m;
  }

  /** Latency signals lag behind: give a cut time to show before the next one. */
  private void cooldown() {
    coolingLooks =
        (int)
            Math.ceil(
                (double) settings.config().cooldown().toNanos()
                    / settings.config().interval().toNanos());
  }

  /** The largest load signal relative to its limit (utilisation only gates step-ups). */
  double pressure(Load load) {
    double target = settings.config().latencyTarget().toNanos();
    double p = load.latency().toNanos() / target;
    p = Math.max(p, load.stepLatency().toNanos() / target);
    if (load.maxQueue() > 0) {
      p = Math.max(p, (double) load.queueDepth() / load.maxQueue());
    }
    if (settings.config().maxLag() > 0) {
      p = Math.max(p, (double) load.lag() / settings.config().maxLag());
    }
    return p;
  }

  private int below(int current) {
    double goal = current * settings.config().decreaseFactor();
    int next = settings.floor();
    for (int a : settings.allowed()) {
      if (a <= goal && a >= settings.floor()) {
        next = a;
      }
    }
    return Math.min(next, current);
  }

  private int above(int current) {
    for (int a : settings.allowed()) {
      if (a > current) {
        return Math.min(a, settings.ceiling());
      }
    }
    return current;
  }
}
