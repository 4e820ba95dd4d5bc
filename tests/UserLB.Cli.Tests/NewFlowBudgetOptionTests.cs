using UserLB.Cli.Commands;

namespace UserLB.Cli.Tests;

/// <summary><c>userlb run --new-flow-budget N [--new-flow-burst B]</c>: each worker gets its share, rounded up.</summary>
public class NewFlowBudgetOptionTests
{
    private static readonly string[] Names = ["new-flow-budget", "new-flow-burst"];

    [Theory]
    [InlineData(new string[0], 1, 0, 0)]
    [InlineData(new[] { "--new-flow-budget", "20000" }, 1, 20000, 0)]
    [InlineData(new[] { "--new-flow-budget", "20000", "--new-flow-burst", "500" }, 1, 20000, 500)]
    [InlineData(new[] { "--new-flow-budget", "20001", "--new-flow-burst", "5" }, 2, 10001, 3)]
    [InlineData(new[] { "--new-flow-budget", "1" }, 4, 1, 0)]
    public void ParseBudget_Valid_EachWorkersShare(string[] argv, int workers, int budget, int burst) =>
        Assert.Equal((budget, burst), RunCommand.ParseBudget(new Args(argv, Names, []), workers));

    [Theory]
    [InlineData(new[] { "--new-flow-budget", "0" }, "option --new-flow-budget: 0 is not a positive number")]
    [InlineData(new[] { "--new-flow-budget", "-5" }, "option --new-flow-budget: -5 is not a positive number")]
    [InlineData(new[] { "--new-flow-budget", "lots" }, "option --new-flow-budget: \"lots\" is not an integer")]
    [InlineData(new[] { "--new-flow-budget", "10", "--new-flow-burst", "0" }, "option --new-flow-burst: 0 is not a positive number")]
    [InlineData(new[] { "--new-flow-burst", "10" }, "option --new-flow-burst: needs --new-flow-budget")]
    public void ParseBudget_Bad_UsageError(string[] argv, string message)
    {
        var ex = Assert.Throws<UsageException>(() => RunCommand.ParseBudget(new Args(argv, Names, []), 1));
        Assert.StartsWith(message, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Usage_MentionsTheBudget() => Assert.Contains("--new-flow-budget N", RunCommand.Usage, StringComparison.Ordinal);
}
