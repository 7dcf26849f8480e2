import {
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpException,
  HttpStatus,
  Inject,
  Param,
  Patch,
  Post,
  Req,
} from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { BodyOf, Returns, UuidPipe } from '../common/dto.js';
import { RateLimiter } from '../common/rate-limiter.js';
import { type AppRequest, contextOf } from '../common/request-context.js';
import {
  ApiKeyDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  CreateUserDto,
  LoginDto,
  LoginReplyDto,
  PrincipalDto,
  UpdateUserDto,
  UserDto,
} from './auth.dto.js';
import { AuthService } from './auth.service.js';
import { HUMANS, Public, Roles } from './roles.js';

export const LOGIN_LIMITER = Symbol('LOGIN_LIMITER');

@ApiTags('auth')
@ApiBearerAuth()
@Controller('api/v1')
export class AuthController {
  constructor(
    @Inject(AuthService) private readonly auth: AuthService,
    @Inject(LOGIN_LIMITER) private readonly loginLimiter: RateLimiter,
  ) {}

  @Post('auth/login')
  @Public()
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in with username and password; returns a JWT for Authorization: Bearer' })
  @Returns(LoginReplyDto)
  async login(@BodyOf(LoginDto) body: LoginDto, @Req() req: AppRequest) {
    const wait = this.loginLimiter.take(`login:${req.ip}`);
    if (wait > 0)
      throw new HttpException(`too many sign-in attempts; retry in ${wait} s`, HttpStatus.TOO_MANY_REQUESTS);
    return this.auth.login(body.username, body.password, req.ip ?? null);
  }

  @Get('auth/me')
  @Roles(...HUMANS, 'device')
  @ApiOperation({ summary: 'The caller: kind, id, name and role' })
  @Returns(PrincipalDto)
  me(@Req() req: AppRequest) {
    return req.principal;
  }

  @Get('users')
  @Roles('admin')
  @ApiOperation({ summary: 'List users' })
  @Returns([UserDto])
  listUsers() {
    return this.auth.listUsers();
  }

  @Post('users')
  @Roles('admin')
  @ApiOperation({ summary: 'Create a user (admin, engineer or supervisor)' })
  @Returns(UserDto, 201)
  createUser(@BodyOf(CreateUserDto) body: CreateUserDto, @Req() req: AppRequest) {
    return this.auth.createUser(contextOf(req), body);
  }

  @Patch('users/:id')
  @Roles('admin')
  @ApiOperation({ summary: 'Change a user: role, password, disabled' })
  @Returns(UserDto)
  updateUser(
    @Param('id', UuidPipe) id: string,
    @BodyOf(UpdateUserDto) body: UpdateUserDto,
    @Req() req: AppRequest,
  ) {
    return this.auth.updateUser(contextOf(req), id, body);
  }

  @Get('api-keys')
  @Roles('admin')
  @ApiOperation({ summary: 'List API keys (never the secret)' })
  @Returns([ApiKeyDto])
  listKeys() {
    return this.auth.listApiKeys();
  }

  @Post('api-keys')
  @Roles('admin')
  @ApiOperation({ summary: 'Create an API key; the key is returned once' })
  @Returns(CreatedApiKeyDto, 201)
  createKey(@BodyOf(CreateApiKeyDto) body: CreateApiKeyDto, @Req() req: AppRequest) {
    return this.auth.createApiKey(contextOf(req), body);
  }

  @Delete('api-keys/:id')
  @Roles('admin')
  @ApiOperation({ summary: 'Revoke an API key' })
  @Returns(ApiKeyDto)
  revokeKey(@Param('id', UuidPipe) id: string, @Req() req: AppRequest) {
    return this.auth.revokeApiKey(contextOf(req), id);
  }
}
