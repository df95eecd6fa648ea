using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;
using Tally.Rules;

namespace Tally.Server.Http;

/// <summary>
/// 200 with a basket answer, written by <see cref="AnswerJson"/> rather than the serializer (same JSON, less work per
/// decision). Declares <see cref="BasketAnswer"/> as its 200 body, so the OpenAPI document describes it as before.
/// </summary>
public sealed class BasketAnswerResult(BasketAnswer answer) : IResult, IEndpointMetadataProvider, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<BasketAnswer>
{
    public BasketAnswer Value => answer;

    object? IValueHttpResult.Value => answer;

    public int? StatusCode => StatusCodes.Status200OK;

    public async Task ExecuteAsync(HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/json; charset=utf-8";
        await using (var writer = new Utf8JsonWriter(http.Response.BodyWriter, new JsonWriterOptions { Encoder = options.Encoder, SkipValidation = true }))
        {
            AnswerJson.Write(writer, answer, options);
        }

        await http.Response.BodyWriter.FlushAsync(http.RequestAborted);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(BasketAnswer), ["application/json"]));
}
