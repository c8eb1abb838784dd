import { Body, Controller, HttpCode, HttpStatus, Inject, Post } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiOkResponse,
  ApiOperation,
  ApiSecurity,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '@hes/auth';
import { ApiErrorResponse } from '../http/api-error';
import {
  DecryptBatchRequest,
  DecryptBatchResponse,
  DecryptResult,
  DecryptTelegramRequest,
  MAX_DECRYPT_BATCH,
} from './decrypt.dto';
import { TelegramDecrypter } from './telegram-decrypter';

/**
 * Decodes telegrams on demand with the keys stored for the caller's meters, returning fields and readings and
 * storing nothing (no readings, no events, no learned formats). A decode failure is a result with ok=false and
 * an error code, not an HTTP error.
 */
@ApiTags('decrypt')
@ApiBearerAuth()
@ApiSecurity('api-key')
@ApiBadRequestResponse({ type: ApiErrorResponse, description: 'malformed request body' })
@ApiServiceUnavailableResponse({ type: ApiErrorResponse, description: 'no master key configured' })
@Controller('decrypt')
export class DecryptController {
  constructor(@Inject(TelegramDecrypter) private readonly decrypter: TelegramDecrypter) {}

  @Post('telegram')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: 'Decodes one telegram with the stored key of its meter',
    description: 'Meters outside your societies answer UNKNOWN_METER; nothing is stored.',
  })
  @ApiOkResponse({ type: DecryptResult })
  async telegram(
    @CurrentPrincipal() principal: Principal,
    @Body() body: DecryptTelegramRequest,
  ): Promise<DecryptResult> {
    const [result] = await this.decrypter.decrypt(principal, [body]);
    return result;
  }

  @Post('batch')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: `Decodes up to ${MAX_DECRYPT_BATCH} telegrams with the stored keys of their meters`,
    description: 'One result per item in request order, each with its own error; nothing is stored.',
  })
  @ApiOkResponse({ type: DecryptBatchResponse })
  async batch(
    @CurrentPrincipal() principal: Principal,
    @Body() body: DecryptBatchRequest,
  ): Promise<DecryptBatchResponse> {
    const results = await this.decrypter.decrypt(principal, body.items);
    const decoded = results.filter((result) => result.ok).length;
    return { decoded, failed: results.length - decoded, results };
  }
}
