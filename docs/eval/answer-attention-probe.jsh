// Where the LM looks from where it answers (a diagnostic for direction, model card "Since v16"): on 64
// test clips' questions about one object, at m = 64, per LM layer from 1 on, the attention weight
// (summed over heads, mean over turns) the answer position puts on the question's object name, on the
// frames' summary tokens (token 0 of every frame) and on the named object's own tokens (1 + i), by
// question type. Run from the repository root; the model and its training config default to the
// shipped one (v17), -R-Dprobe.model=DIR -R-Dprobe.config=YAML choose another (the card's v16 figures:
// target/train/name-attention-more/final with configs/train/mqt-tiny-name-attention-more.yaml):
// jshell -R-Dai.djl.offline=true --class-path "app/target/mqt-stream.jar:$(ls app/target/lib/*.jar | tr '\n' ':')" docs/eval/answer-attention-probe.jsh
import ai.djl.ndarray.*;
import ai.djl.training.ParameterStore;
import io.mqtstream.training.*;
import io.mqtstream.world.*;
import java.lang.reflect.*;
import java.nio.file.*;
import java.util.*;
String configPath = System.getProperty("probe.config", "configs/train/mqt-tiny-direction-then-mixed.yaml");
String model = System.getProperty("probe.model", "models/mqt-tiny");
int m = 64;
Class<?> spec = Class.forName("io.mqtstream.app.TrainSpec");
Method load = spec.getDeclaredMethod("load", Path.class); load.setAccessible(true);
Method toConfig = spec.getDeclaredMethod("toConfig"); toConfig.setAccessible(true);
TrainConfig c = (TrainConfig) toConfig.invoke(load.invoke(null, Path.of(configPath)));
Trainer t = Trainer.startFrom(c, Path.of(model));
var world = new SyntheticWorld(c.world());
List<Clip> clips = new ArrayList<>();
for (int i = 0; i < 64; i++) clips.add(world.clip(Split.TEST.seed(i)));
Method about = Trainer.class.getDeclaredMethod("aboutOneObject", List.class); about.setAccessible(true);
List<?> batch = (List<?>) about.invoke(t, clips);
Class<?> passClass = Class.forName("io.mqtstream.training.Trainer$Pass");
Class<?> inputsClass = Class.forName("io.mqtstream.training.Trainer$Inputs");
Class<?> exampleClass = Class.forName("io.mqtstream.training.Trainer$Example");
Method pass = Trainer.class.getDeclaredMethod("pass", ParameterStore.class, NDManager.class, List.class, int.class, boolean.class); pass.setAccessible(true);
Method nameAt = Trainer.class.getDeclaredMethod("nameAt", List.class, inputsClass); nameAt.setAccessible(true);
Method inOf = passClass.getDeclaredMethod("in"); inOf.setAccessible(true);
Method questionsOf = exampleClass.getDeclaredMethod("questions"); questionsOf.setAccessible(true);
Method namesOf = exampleClass.getDeclaredMethod("names"); namesOf.setAccessible(true);
Method x = inputsClass.getDeclaredMethod("x"); x.setAccessible(true);
Method positions = inputsClass.getDeclaredMethod("positions"); positions.setAccessible(true);
Method pad = inputsClass.getDeclaredMethod("pad"); pad.setAccessible(true);
Method firstTarget = inputsClass.getDeclaredMethod("firstTarget"); firstTarget.setAccessible(true);
Method targetRow = inputsClass.getDeclaredMethod("targetRow"); targetRow.setAccessible(true);
Method rowStart = inputsClass.getDeclaredMethod("rowStart"); rowStart.setAccessible(true);
long which = t.reasoner().tokenizer().encode("which")[0];
long isWord = t.reasoner().tokenizer().encode("is")[0];
long what = t.reasoner().tokenizer().encode("what")[0];
try (NDManager scope = t.encoder().manager().newSubManager()) {
  ParameterStore ps = new ParameterStore(scope, false);
  Object p = pass.invoke(t, ps, scope, batch, m, false);
  Object in = inOf.invoke(p);
  int[] names = (int[]) nameAt.invoke(null, batch, in);
  int[] first = (int[]) firstTarget.invoke(in);
  int[] rows = (int[]) targetRow.invoke(in);
  int[] starts = (int[]) rowStart.invoke(in);
  List<String> types = new ArrayList<>();
  List<Integer> identities = new ArrayList<>();
  for (Object e : batch) {
    List<long[]> qs = (List<long[]>) questionsOf.invoke(e);
    List<?> ns = (List<?>) namesOf.invoke(e);
    for (int k = 0; k < qs.size(); k++) {
      long[] q = qs.get(k);
      String type = q[0] == which ? "direction" : q[0] == what ? "colour_of" : q.length > 4 && q[0] == isWord && q[1] == t.reasoner().tokenizer().encode("the")[0] ? "position" : "exists";
      types.add(type);
      Object n = ns.get(k);
      Method identity = n == null ? null : n.getClass().getDeclaredMethod("identity");
      if (identity != null) identity.setAccessible(true);
      identities.add(n == null ? -1 : (Integer) identity.invoke(n));
    }
  }
  int frames = c.world().frames();
  int heads = t.reasoner().config().heads();
  for (int layer = 1; layer < t.reasoner().config().layers(); layer++) {
    float[] w;
    long L;
    try (NDManager layerScope = scope.newSubManager()) {
      NDArray input = ((NDArray) x.invoke(in)).duplicate();
      input.attach(layerScope);
      var f = t.reasoner().lm().forward(new ParameterStore(layerScope, false), input, (long[][]) positions.invoke(in), (float[][]) pad.invoke(in), null, false, layer, false);
      NDArray a = f.attention(); // (R, H, L, L)
      L = a.getShape().get(2);
      w = a.toFloatArray();
    }
    Map<String, double[]> sums = new TreeMap<>(); // type → name, summaries, own tokens, count
    for (int k = 0; k < types.size(); k++) {
      if (names[k] < 0 || identities.get(k) < 0) continue;
      double toName = 0, toSummary = 0, toOwn = 0;
      for (int h = 0; h < heads; h++) {
        long base = (((long) rows[k] * heads + h) * L + first[k]) * L;
        toName += w[(int) (base + names[k])];
        for (int fr = 0; fr < frames; fr++) {
          toSummary += w[(int) (base + starts[rows[k]] + (long) fr * m)];
          toOwn += w[(int) (base + starts[rows[k]] + (long) fr * m + 1 + identities.get(k))];
        }
      }
      double[] s = sums.computeIfAbsent(types.get(k), key -> new double[4]);
      s[0] += toName; s[1] += toSummary; s[2] += toOwn; s[3]++;
    }
    for (var e : sums.entrySet()) {
      double[] s = e.getValue();
      System.out.printf("layer %d %-9s n=%3.0f  on the name %.3f  on summaries %.3f  on its own tokens %.3f (of %d heads)%n", layer, e.getKey(), s[3], s[0] / s[3], s[1] / s[3], s[2] / s[3], heads);
    }
  }
}
t.close();
/exit
