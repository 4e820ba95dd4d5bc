namespace UserLB.CaptureGen;

/// <summary>
/// <c>dotnet run --project tests/UserLB.CaptureGen [-- --out DIR]</c>: writes every scenario under DIR (default: the
/// repository's <c>captures/</c>). Output is deterministic: the same program writes byte-identical files.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        string? root = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--out" && i + 1 < args.Length)
            {
                root = args[++i];
            }
            else
            {
                Console.Error.WriteLine("usage: UserLB.CaptureGen [--out DIR]   (default DIR: <repository>/captures)");
                return 2;
            }
        }
        if (root is null)
        {
            var repo = CaptureWriter.FindRepositoryRoot(Directory.GetCurrentDirectory())
                ?? CaptureWriter.FindRepositoryRoot(AppContext.BaseDirectory);
            if (repo is null)
            {
                Console.Error.WriteLine("UserLB.CaptureGen: UserLB.sln not found above the current directory; pass --out DIR");
                return 2;
            }
            root = Path.Combine(repo, "captures");
        }
        foreach (var dir in CaptureWriter.WriteAll(root)) Console.WriteLine(dir);
        return 0;
    }
}
