package io.mqtstream.app.engine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * Takes the README's screenshots of a running dashboard: {@code DashboardScreenshot URL OUT.png
 * SECONDS [WIDTH HEIGHT]} opens the page in headless Chromium, lets it run for SECONDS (the charts
 * fill in), and saves the page.
 */
public final class DashboardScreenshot {
  private DashboardScreenshot() {}

  public static void main(String[] args) throws Exception {
    int width = args.length > 3 ? Integer.parseInt(args[3]) : 1400;
    int height = args.length > 4 ? Integer.parseInt(args[4]) : 1000;
    ChromeOptions options = new ChromeOptions();
    options.setBinary("/usr/bin/chromium");
    options.addArguments(
        "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=" + width + "," + height);
    WebDriver page =
        new ChromeDriver(
            new ChromeDriverService.Builder()
                .usingDriverExecutable(Path.of("/usr/bin/chromedriver").toFile())
                .build(),
            options);
    try {
      page.get(args[0]);
      Thread.sleep(Duration.ofSeconds(Long.parseLong(args[2])).toMillis()); // let it run: a picture
      Path shot = ((TakesScreenshot) page).getScreenshotAs(OutputType.FILE).toPath();
      Files.copy(shot, Path.of(args[1]), StandardCopyOption.REPLACE_EXISTING);
    } finally {
      page.quit();
    }
  }
}
