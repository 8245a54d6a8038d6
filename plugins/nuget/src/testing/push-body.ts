/** dotnet's push body: one file part named `package`. */
export function pushBody(file: Buffer): { contentType: string; body: Buffer } {
  const boundary = 'rc-nuget-boundary';
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: Buffer.concat([
      Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="package"; filename="package.nupkg"\r\ncontent-type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]),
  };
}
