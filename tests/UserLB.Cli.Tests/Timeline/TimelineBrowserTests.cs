using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;

namespace UserLB.Cli.Tests.Timeline;

/// <summary>
/// The timeline page in a real browser: headless Chromium (Debian's <c>chromium</c>, installed by run-tests.sh) renders
/// the reference capture's page with name resolution disabled, and the screenshot must show the drawing: the
/// ESTABLISHED band's green and more than a handful of colours. Skipped, saying why, when no Chromium is installed.
/// </summary>
public sealed class TimelineBrowserTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("userlb-timeline-browser-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string? FindChromium()
    {
        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome" })
        {
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        }

        return null;
    }

    [SkippableFact]
    public void Chromium_RefSnatTimeline_RendersTheBands()
    {
        string? chromium = FindChromium();
        Skip.If(chromium is null, "no chromium on PATH (apt-get install chromium; run-tests.sh installs it as root)");
        var (page, _) = TimelineTests.Replay("ref-snat", _dir);
        string html = Path.Combine(_dir, "timeline.html"), png = Path.Combine(_dir, "timeline.png");
        File.WriteAllText(html, page);
        var psi = new ProcessStartInfo(chromium!)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
                     "--user-data-dir=" + Path.Combine(_dir, "profile"), "--window-size=1320,340", "--screenshot=" + png, "file://" + html })
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not finish in 90 s");
        }
        Assert.True(File.Exists(png), "no screenshot; chromium said: " + stderr.Result);
        var (width, height, pixels) = Png.ReadRgb(File.ReadAllBytes(png));
        Assert.Equal((1320, 340), (width, height));
        var colours = new HashSet<int>();
        int green = 0;
        for (int i = 0; i < pixels.Length; i += 3)
        {
            int rgb = pixels[i] << 16 | pixels[i + 1] << 8 | pixels[i + 2];
            colours.Add(rgb);
            if (rgb == 0x27ae60) green++; // TimelinePage's ESTABLISHED
        }
        Assert.True(green > 2000, $"ESTABLISHED bands: {green} pixels of #27ae60");
        Assert.True(colours.Count > 20, $"{colours.Count} colours: a blank page?");
    }
}

/// <summary>Just enough PNG to look at a screenshot: 8-bit RGB or RGBA, not interlaced, rows unfiltered.</summary>
internal static class Png
{
    public static (int Width, int Height, byte[] Rgb) ReadRgb(byte[] file)
    {
        int pos = 8, width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        while (pos + 8 <= file.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(file, pos + 4, 4);
            var data = file.AsSpan(pos + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                Assert.Equal(8, data[8]);
                Assert.Equal(0, data[12]);
                channels = data[9] switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"PNG colour type {data[9]}") };
            }
            else if (type == "IDAT")
            {
                idat.Write(data);
            }

            pos += 12 + length;
        }
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        int stride = width * channels;
        var raw = new byte[(stride + 1) * height];
        z.ReadExactly(raw);
        var prev = new byte[stride];
        var row = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            byte filter = raw[y * (stride + 1)];
            var src = raw.AsSpan(y * (stride + 1) + 1, stride);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= channels ? row[i - channels] : 0, b = prev[i], c = i >= channels ? prev[i - channels] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                };
                row[i] = (byte)(src[i] + predictor);
            }
            for (int x = 0; x < width; x++)
                for (int k = 0; k < 3; k++) rgb[(y * width + x) * 3 + k] = row[x * channels + k];
            (prev, row) = (row, prev);
        }
        return (width, height, rgb);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
