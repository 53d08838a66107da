using System.Net;
using System.Text;

namespace FinQLora.Reports;

/// <summary>A table as text cells (the first column is a name, the others right-aligned), rendered as Markdown or HTML.</summary>
public sealed record TableData(IReadOnlyList<string> Header, IReadOnlyList<string[]> Rows)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder("| " + string.Join(" | ", Header) + " |\n|---|" + string.Concat(Header.Skip(1).Select(_ => "---:|")) + "\n");
        foreach (var row in Rows) sb.Append("| " + string.Join(" | ", row.Select(c => c.Replace("|", "\\|"))) + " |\n");
        return sb.ToString();
    }

    public string ToHtml()
    {
        static string Row(IEnumerable<string> cells, string tag) => "<tr>" + string.Concat(cells.Select(c => $"<{tag}>{WebUtility.HtmlEncode(c)}</{tag}>")) + "</tr>";
        return "<table>" + Row(Header, "th") + string.Concat(Rows.Select(r => Row(r, "td"))) + "</table>";
    }
}
