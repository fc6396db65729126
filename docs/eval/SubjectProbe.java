import io.mqtstream.training.TrainConfig;
import io.mqtstream.training.Trainer;
import io.mqtstream.world.Clip;
import io.mqtstream.world.Question;
import io.mqtstream.world.Split;
import io.mqtstream.world.SyntheticWorld;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The subject head's error on held-out clips at a checkpoint of a run with subjectWeight, beside the
 * best constant guess (per frame, the mean place of the objects asked about): how well the LM's
 * state where it answers holds the named object's place (model card, "asking the LM where the named
 * object is"). Not part of the build: it calls package-private methods by reflection. After
 * `mvn -q package -DskipTests`, it takes about 35 s:
 *
 * <pre>
 *   javac -cp "app/target/mqt-stream.jar:app/target/lib/*" -d /tmp/probe docs/eval/SubjectProbe.java
 *   java -cp "/tmp/probe:app/target/mqt-stream.jar:app/target/lib/*" SubjectProbe \
 *     configs/train/mqt-tiny-subject.yaml target/train/subject/final 256
 * </pre>
 */
public class SubjectProbe {
  public static void main(String[] args) throws Exception {
    Class<?> spec = Class.forName("io.mqtstream.app.TrainSpec");
    Method load = spec.getDeclaredMethod("load", Path.class);
    load.setAccessible(true);
    Method toConfig = spec.getDeclaredMethod("toConfig");
    toConfig.setAccessible(true);
    TrainConfig c = (TrainConfig) toConfig.invoke(load.invoke(null, Path.of(args[0])));
    SyntheticWorld world = new SyntheticWorld(c.world());
    int n = Integer.parseInt(args[2]);
    int frames = c.world().frames();
    List<Clip> clips = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      clips.add(world.clip(Split.TEST.seed(i)));
    }
    // the questions Trainer.subjectError asks: each clip's questions about one object, in order
    double[] sum = new double[2 * frames];
    double[] squares = new double[2 * frames];
    double[] count = new double[frames];
    for (Clip clip : clips) {
      int asked = 0;
      for (Question q : world.questions(clip)) {
        if (q.subject() == null || asked++ >= c.questionsPerClip()) {
          continue;
        }
        for (int f = 0; f < frames; f++) {
          if (q.subject().visibleAt(f)) {
            count[f]++;
            double[] place = {
              2 * q.subject().x(f) / clip.imageSize() - 1,
              2 * q.subject().y(f) / clip.imageSize() - 1
            };
            for (int k = 0; k < 2; k++) {
              sum[2 * f + k] += place[k];
              squares[2 * f + k] += place[k] * place[k];
            }
          }
        }
      }
    }
    double error = 0;
    double shown = 0;
    for (int f = 0; f < frames; f++) {
      shown += count[f];
      for (int k = 0; k < 2; k++) {
        error += squares[2 * f + k] - sum[2 * f + k] * sum[2 * f + k] / count[f];
      }
    }
    System.out.printf("constant guess %.4f%n", error / (2 * shown));
    try (Trainer t = Trainer.resume(c, Path.of(args[1]))) {
      Method subjectError = Trainer.class.getDeclaredMethod("subjectError", List.class, int.class);
      subjectError.setAccessible(true);
      int batches = (n + 15) / 16;
      for (int m : new int[] {2, 16, 64}) {
        double total = 0;
        for (int i = 0; i < n; i += 16) {
          total += (float) subjectError.invoke(t, clips.subList(i, Math.min(n, i + 16)), m);
        }
        System.out.printf("m=%d subject error %.4f (mean of %d batches of 16 clips)%n", m, total / batches, batches);
      }
    }
  }
}
